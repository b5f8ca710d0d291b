"""The invalid instance documents of tests/data/invalid/ and how they are made.

Each configuration document is :data:`BASE` (a small valid configuration) with one
substitution from :data:`CONFIG_CASES`, so that it breaks exactly one rule of the
nvo3 YANG modules.  :data:`RPC_CASES` are TES signalling RPC invocations that break
one rule of ``nvo3-tes`` each.

Run ``python tests/yang/nvo3_invalid_docs.py`` to (re)write the files;
``test_models.py`` checks that the files on disk match this module and that the base
document itself is valid.
"""

from __future__ import annotations

import pathlib

INVALID_DIR = pathlib.Path(__file__).resolve().parents[1] / "data" / "invalid"

BASE = """<tenants xmlns="urn:nvo3-netconf:yang:nvo3-vn">
  <tenant><tenant-id>alice</tenant-id></tenant>
  <tenant><tenant-id>bob</tenant-id></tenant>
</tenants>
<vn-instances xmlns="urn:nvo3-netconf:yang:nvo3-vn"
              xmlns:vn="urn:nvo3-netconf:yang:nvo3-vn">
  <vn-instance>
    <name>alice-web</name>
    <vnid>{ALICE_VNID}</vnid>
    <tenant>alice</tenant>
    <encapsulation>vn:{ALICE_ENCAP}</encapsulation>
    <{ALICE_FLOOD}>
    <vap>
      <name>eth1-web</name>
      <interface>eth1</interface>
      <vid-range><start>100</start><end>{VAP_END}</end></vid-range>
    </vap>
  </vn-instance>
  <vn-instance>
    <name>bob-app</name>
    <vnid>{BOB_VNID}</vnid>
    <tenant>bob</tenant>
  </vn-instance>
</vn-instances>
<acls xmlns="urn:ietf:params:xml:ns:yang:ietf-access-control-list">
  <acl>
    <name>alice-web-in</name>
    <type>ipv4-acl-type</type>
    <aces>
      <ace>
        <name>allow-http</name>
        <matches>
          <ipv4><destination-ipv4-network>10.1.0.0/24</destination-ipv4-network></ipv4>
          <tcp><destination-port><operator>eq</operator><port>80</port></destination-port></tcp>
        </matches>
        <actions><forwarding>accept</forwarding></actions>
      </ace>
    </aces>
  </acl>
</acls>
<qos-profiles xmlns="urn:nvo3-netconf:yang:nvo3-policy">
  <qos-profile><name>gold</name><marking><pcp>5</pcp></marking></qos-profile>
</qos-profiles>
<vms xmlns="urn:nvo3-netconf:yang:nvo3-vm">
  <vm>
    <vm-id>{VM_ID}</vm-id>
    <vm-id-format>uuid</vm-id-format>
    <tenant>alice</tenant>
    <vnic>
      <mac>{VNIC_MAC}</mac>
      <ip-address>10.1.0.11</ip-address>
      <vn>{VNIC_VN}</vn>{VNIC_VAP}
      <vid>{VNIC_VID}</vid>
      <pcp>{VNIC_PCP}</pcp>
    </vnic>
    <vnic>
      <mac>52:54:00:a1:00:02</mac>
      <vn>alice-web</vn>
    </vnic>
    <vn-policy>
      <vn>alice-web</vn>
      <ingress-acl>{POLICY_ACL}</ingress-acl>
      <qos-profile>gold</qos-profile>
    </vn-policy>
  </vm>
</vms>
<mappings xmlns="urn:nvo3-netconf:yang:nvo3-mapping">
  <vn>
    <name>{MAP_VN}</name>
    <entry>
      <inner-mac>52:54:00:a2:00:01</inner-mac>
      <remote-nve>192.0.2.12</remote-nve>
      <origin>{MAP_ORIGIN}</origin>
    </entry>
  </vn>
</mappings>
<nve xmlns="urn:nvo3-netconf:yang:nvo3-nve">
  <underlay-address>192.0.2.11</underlay-address>
  <vm-aging><aging-time>{AGING}</aging-time><keep-alive-interval>60</keep-alive-interval></vm-aging>
</nve>
"""

DEFAULTS = dict(
    ALICE_VNID="10010",
    ALICE_ENCAP="vxlan",
    ALICE_FLOOD="flood-list>192.0.2.12</flood-list",
    VAP_END="149",
    BOB_VNID="20010",
    VM_ID="6f1c2b9e-3d4a-4e5f-8a7b-1c2d3e4f5a01",
    VNIC_MAC="52:54:00:a1:00:01",
    VNIC_VN="alice-web",
    VNIC_VID="101",
    VNIC_PCP="5",
    VNIC_VAP="\n      <vap>eth1-web</vap>",
    POLICY_ACL="alice-web-in",
    MAP_VN="alice-web",
    MAP_ORIGIN="controller",
    AGING="300",
)

CONFIG_CASES = {
    "vnid-zero": ("VNID 0 (the VNID range is 1..16777215)", dict(ALICE_VNID="0")),
    "vnid-too-big": ("VNID 16777216 (more than 24 bits)", dict(ALICE_VNID="16777216")),
    "vid-4095": ("local VID 4095 (reserved; VIDs are 0..4094, 0 = null)", dict(VNIC_VID="4095")),
    "pcp-8": ("PCP 8 (PCP is 0..7)", dict(VNIC_PCP="8")),
    "malformed-mac": (
        "a vNIC MAC address that is not a MAC address",
        dict(VNIC_MAC="52:54:00:zz:00:01"),
    ),
    "vnic-unknown-vn": (
        "a vNIC attached to a VN that does not exist",
        dict(VNIC_VN="alice-nowhere", VNIC_VAP=""),
    ),
    "duplicate-vnid": ("two VN instances with the same VNID", dict(BOB_VNID="10010")),
    "vm-vn-other-tenant": (
        "a VM of tenant alice attached to a VN of tenant bob (seed 003 sec. 4)",
        dict(VNIC_VN="bob-app", VNIC_VAP=""),
    ),
    "policy-missing-acl": (
        "a VM policy naming an ACL that is not configured",
        dict(POLICY_ACL="alice-web-out"),
    ),
    "mapping-unknown-vn": (
        "mapping entries for a VN that does not exist",
        dict(MAP_VN="carol-web"),
    ),
    # further rules of the modules
    "vid-range-reversed": ("a VAP VID range whose end is lower than its start", dict(VAP_END="99")),
    "vid-outside-vap": ("a vNIC VID outside every VID range of its VAP", dict(VNIC_VID="150")),
    "vm-id-format-mismatch": (
        "a vm-id that is not a UUID although its format is uuid",
        dict(VM_ID="vm-one"),
    ),
    "multicast-group-unicast": (
        "a flooding multicast group that is a unicast address",
        dict(ALICE_FLOOD="multicast-group>192.0.2.99</multicast-group"),
    ),
    "mpls-vnid-too-big": (
        "an mpls-over-gre VN whose VNID does not fit a 20-bit MPLS label",
        dict(ALICE_ENCAP="mpls-over-gre", ALICE_VNID="2000000"),
    ),
    "mapping-origin-learned": (
        "a configured mapping entry with origin learned",
        dict(MAP_ORIGIN="learned"),
    ),
    "aging-below-keepalive": (
        "an aging time shorter than the keep-alive interval",
        dict(AGING="30"),
    ),
}

_VM1 = "<vm-id>6f1c2b9e-3d4a-4e5f-8a7b-1c2d3e4f5a01</vm-id>"

RPC_CASES = {
    "rpc-associate-no-vn": (
        "an associate without indication and without any VN",
        f"""<associate xmlns="urn:nvo3-netconf:yang:nvo3-tes">
  {_VM1}
  <tenant>alice</tenant>
</associate>
""",
    ),
    "rpc-vn-not-identified": (
        "a VN given by neither vn-name nor vnid",
        f"""<associate xmlns="urn:nvo3-netconf:yang:nvo3-tes">
  {_VM1}
  <tenant>alice</tenant>
  <vn>
    <vnic><mac>52:54:00:a1:00:01</mac></vnic>
  </vn>
</associate>
""",
    ),
    "rpc-mac-vid-without-mac": (
        "a vnic entry without MAC in the (default) mac-vid filter format",
        f"""<associate xmlns="urn:nvo3-netconf:yang:nvo3-tes">
  {_VM1}
  <tenant>alice</tenant>
  <vn>
    <vn-name>alice-web</vn-name>
    <vnic><requested-vid>0</requested-vid></vnic>
  </vn>
</associate>
""",
    ),
    "rpc-groupid-format-without-group": (
        "the groupid-mac-vid filter format without any group-id",
        f"""<pre-associate xmlns="urn:nvo3-netconf:yang:nvo3-tes">
  {_VM1}
  <tenant>alice</tenant>
  <filter-format>groupid-mac-vid</filter-format>
  <vn>
    <vn-name>alice-web</vn-name>
    <vnic><mac>52:54:00:a1:00:01</mac></vnic>
  </vn>
</pre-associate>
""",
    ),
    "rpc-conflicting-indications": (
        "an associate with both suspension and resume indications",
        f"""<associate xmlns="urn:nvo3-netconf:yang:nvo3-tes">
  {_VM1}
  <tenant>alice</tenant>
  <indications><suspension/><resume/></indications>
</associate>
""",
    ),
    "rpc-vm-id-format-mismatch": (
        "an upper-case MAC as vm-id of format mac",
        """<suspend xmlns="urn:nvo3-netconf:yang:nvo3-tes">
  <vm-id>52:54:00:A1:00:01</vm-id>
  <vm-id-format>mac</vm-id-format>
</suspend>
""",
    ),
    "rpc-requested-vid-4095": (
        "a requested VID of 4095",
        f"""<associate xmlns="urn:nvo3-netconf:yang:nvo3-tes">
  {_VM1}
  <tenant>alice</tenant>
  <vn>
    <vn-name>alice-web</vn-name>
    <vnic><mac>52:54:00:a1:00:01</mac><requested-vid>4095</requested-vid></vnic>
  </vn>
</associate>
""",
    ),
}


def base_document() -> str:
    """Return the valid configuration every configuration case derives from."""
    return BASE.format(**DEFAULTS)


def render() -> dict[str, str]:
    """Return file name -> content of every invalid document."""
    files: dict[str, str] = {}
    for name, (what, subst) in CONFIG_CASES.items():
        files[f"{name}.xml"] = (
            f"<!-- Invalid: {what}.\n"
            "     Everything else is the valid base of tests/yang/nvo3_invalid_docs.py. -->\n"
            + BASE.format(**dict(DEFAULTS, **subst))
        )
    for name, (what, text) in RPC_CASES.items():
        files[f"{name}.xml"] = f"<!-- Invalid TES signalling RPC: {what}. -->\n" + text
    return files


def main() -> None:
    """Write every invalid document into tests/data/invalid/."""
    INVALID_DIR.mkdir(parents=True, exist_ok=True)
    for name, text in render().items():
        (INVALID_DIR / name).write_text(text)


if __name__ == "__main__":
    main()
