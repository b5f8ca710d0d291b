"""A client learns the agent's models from the agent alone, and they compile.

Every module of the YANG library (RFC 8525 ``/yang-library``, RFC 7895
``/modules-state``) and of the RFC 6022 schema list is fetched with ``<get-schema>`` into
an empty directory, which pyang and yanglint then compile with nothing else on their
search path. The revisions (and features) the hello announces are those of the library
and of the fetched texts.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from lxml import etree
from ncclient import manager

pytestmark = pytest.mark.interop

LIB = "urn:ietf:params:xml:ns:yang:ietf-yang-library"
MON = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
L = {"l": LIB, "m": MON}
YANG_LIBRARY_CAP = "urn:ietf:params:netconf:capability:yang-library:1.0"

PYANG = Path(sys.executable).parent / "pyang"
YANGLINT = shutil.which("yanglint")


def library(control: manager.Manager) -> etree._Element:
    return control.get(filter=[f'<yang-library xmlns="{LIB}"/>',
                               f'<modules-state xmlns="{LIB}"/>',
                               f'<netconf-state xmlns="{MON}"><schemas/></netconf-state>'],
                       ).data_ele


def pairs(elements: list[etree._Element], name: str, revision: str) -> set[tuple[str, str]]:
    return {(e.findtext(name, namespaces=L), e.findtext(revision, namespaces=L) or "")
            for e in elements}


def hello_modules(control: manager.Manager) -> dict[str, dict[str, list[str]]]:
    """Module name -> its hello capability's parameters (revision, features)."""
    modules = {}
    for cap in control.server_capabilities:
        if "?module=" in cap:
            params = parse_qs(cap.split("?", 1)[1])
            modules[params["module"][0]] = params
    return modules


@pytest.fixture(scope="module")
def fetched(module_agent, control: manager.Manager,
            tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[tuple[str, str]]]:
    """Every module the library lists, fetched with <get-schema> into a fresh directory."""
    data = library(control)
    module_set = data.xpath("//l:yang-library/l:module-set", namespaces=L)
    assert len(module_set) == 1
    listed = (pairs(module_set[0].xpath("l:module", namespaces=L), "l:name", "l:revision")
              | pairs(module_set[0].xpath("l:import-only-module", namespaces=L),
                      "l:name", "l:revision"))
    assert listed == pairs(data.xpath("//l:modules-state/l:module", namespaces=L),
                           "l:name", "l:revision")
    assert listed == pairs(data.xpath("//m:schemas/m:schema[m:format='yang']", namespaces=L),
                           "m:identifier", "m:version")
    directory = tmp_path_factory.mktemp("schemas")
    for name, revision in sorted(listed):
        text = control.get_schema(name, version=revision or None, format="yang").data
        assert re.match(rf"\s*(module|submodule)\s+{re.escape(name)}\b", text), name
        (directory / (f"{name}@{revision}.yang" if revision else f"{name}.yang")).write_text(text)
    return directory, listed


def test_library_lists_what_the_models_need(fetched) -> None:
    _, listed = fetched
    names = {name for name, _ in listed}
    assert {"nvo3-vn", "nvo3-types", "ietf-inet-types", "ietf-yang-types",
            "ietf-packet-fields"} <= names


@pytest.mark.skipif(not PYANG.exists(), reason="pyang is not installed in the venv "
                                               "(make setup installs it with the test extra)")
def test_fetched_modules_compile_with_pyang(fetched) -> None:
    directory, _ = fetched
    files = sorted(str(p) for p in directory.glob("*.yang"))
    done = subprocess.run([str(PYANG), "-p", str(directory), *files], capture_output=True,
                          text=True, timeout=300, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert not re.search(r"(?m): error: ", output), output


@pytest.mark.skipif(YANGLINT is None, reason="yanglint is not installed "
                                             "(make setup installs Debian's libyang2-tools)")
def test_fetched_modules_compile_with_yanglint(fetched) -> None:
    directory, _ = fetched
    files = sorted(str(p) for p in directory.glob("*.yang"))
    assert YANGLINT is not None
    done = subprocess.run([YANGLINT, "-p", str(directory), *files], capture_output=True,
                          text=True, timeout=300, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "err" not in output.lower(), output


def test_hello_revisions_match_library_and_texts(fetched, control: manager.Manager) -> None:
    directory, listed = fetched
    revisions = dict(listed)
    announced = hello_modules(control)
    assert "nvo3-vn" in announced
    for name, params in announced.items():
        revision = params.get("revision", [""])[0]
        assert revisions.get(name) == revision, name
        text = (directory / f"{name}@{revision}.yang").read_text()
        newest = re.search(r"\brevision\s+\"?(\d{4}-\d{2}-\d{2})", text)
        assert newest is not None and newest.group(1) == revision, name


def test_hello_features_and_module_set_id_match_library(control: manager.Manager) -> None:
    data = library(control)
    (module_set,) = data.xpath("//l:yang-library/l:module-set", namespaces=L)
    features = values_by_module(module_set.xpath("l:module", namespaces=L), "l:feature")
    for name, params in hello_modules(control).items():
        announced = sorted(params["features"][0].split(",")) if "features" in params else []
        assert features[name] == announced, name
    (cap,) = [c for c in control.server_capabilities if c.startswith(YANG_LIBRARY_CAP + "?")]
    params = parse_qs(cap.split("?", 1)[1])
    assert params["revision"] == [revisions_of(module_set)["ietf-yang-library"]]
    assert params["module-set-id"] == data.xpath("//l:modules-state/l:module-set-id/text()",
                                                 namespaces=L)
    assert params["module-set-id"] == data.xpath("//l:yang-library/l:content-id/text()",
                                                 namespaces=L)


def values_by_module(modules: list[etree._Element], path: str) -> dict[str, list[str]]:
    """Module name -> the sorted texts of ``path`` under each of ``modules``."""
    return {m.findtext("l:name", namespaces=L): sorted(m.xpath(f"{path}/text()", namespaces=L))
            for m in modules}


def revisions_of(module_set: etree._Element) -> dict[str, str]:
    return {m.findtext("l:name", namespaces=L): m.findtext("l:revision", namespaces=L) or ""
            for m in module_set.xpath("l:module", namespaces=L)}


def test_hello_deviations_match_library(control: manager.Manager) -> None:
    """A module's capability names the modules deviating it (RFC 7950 sec. 5.6.4)."""
    data = library(control)
    (module_set,) = data.xpath("//l:yang-library/l:module-set", namespaces=L)
    deviations = values_by_module(module_set.xpath("l:module", namespaces=L), "l:deviation")
    legacy = values_by_module(data.xpath("//l:modules-state/l:module", namespaces=L),
                              "l:deviation/l:name")
    announced = hello_modules(control)
    for name, params in announced.items():
        listed = sorted(params["deviations"][0].split(",")) if "deviations" in params else []
        assert deviations[name] == listed, name
        assert legacy[name] == listed, name
    assert deviations["ietf-netconf-acm"] == ["nvo3-nacm-deviations"]

