"""Command-line programs: ``nvo3-nve``, ``ndirector`` and ``nvo3-tes`` (``main(argv) -> int``)."""
