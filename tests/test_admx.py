"""The Group Policy template (packaging/admx/): well-formed XML in the ADMX namespace, in
the schema's element order, every string and presentation it names defined in the ADML,
and the registry value it writes the one mapishim reads (crates/core/src/config/policy.rs)."""

import re
import xml.etree.ElementTree as ET

from conftest import ROOT

NS = "{http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions}"
ADMX = ROOT / "packaging" / "admx" / "mapishim.admx"
ADML = ROOT / "packaging" / "admx" / "en-US" / "mapishim.adml"


def code_constant(name):
    text = (ROOT / "crates" / "core" / "src" / "config" / "policy.rs").read_text()
    return re.search(rf'pub const {name}: &str = r?"([^"]+)";', text).group(1)


def test_admx_writes_the_value_mapishim_reads():
    root = ET.parse(ADMX).getroot()
    assert root.tag == f"{NS}policyDefinitions" and root.get("schemaVersion") == "1.0"
    # The schema's order: policyNamespaces, resources, supportedOn, categories, policies.
    order = [child.tag.removeprefix(NS) for child in root]
    assert order == ["policyNamespaces", "resources", "supportedOn", "categories", "policies"], order
    target = root.find(f"{NS}policyNamespaces/{NS}target")
    assert target.get("prefix") and target.get("namespace")
    policies = root.findall(f"{NS}policies/{NS}policy")
    assert len(policies) == 1
    policy = policies[0]
    assert policy.get("class") == "Both"
    key, value = code_constant("POLICY_KEY"), code_constant("POLICY_VALUE")
    assert policy.get("key").lower() == key.lower()
    text = policy.find(f"{NS}elements/{NS}text")
    assert text.get("valueName") == value and text.get("key").lower() == key.lower()
    assert text.get("expandable") == "true"  # REG_EXPAND_SZ, which mapishim expands
    categories = {c.get("name") for c in root.iter(f"{NS}category")}
    assert policy.find(f"{NS}parentCategory").get("ref") in categories
    supported = {d.get("name") for d in root.iter(f"{NS}definition")}
    assert policy.find(f"{NS}supportedOn").get("ref") in supported


def test_adml_defines_every_string_and_presentation():
    admx = ADMX.read_text()
    adml = ET.parse(ADML).getroot()
    assert adml.tag == f"{NS}policyDefinitionResources"
    strings = {s.get("id") for s in adml.iter(f"{NS}string")}
    presentations = {p.get("id"): p for p in adml.iter(f"{NS}presentation")}
    used_strings = set(re.findall(r"\$\(string\.([^)]+)\)", admx))
    used_presentations = set(re.findall(r"\$\(presentation\.([^)]+)\)", admx))
    assert used_strings and used_strings <= strings, used_strings - strings
    assert used_presentations and used_presentations <= set(presentations)
    # Each presentation control refers to an element of the policy.
    element_ids = {e.get("id") for e in ET.parse(ADMX).getroot().iter(f"{NS}text")}
    for presentation in presentations.values():
        refs = {c.get("refId") for c in presentation}
        assert refs and refs <= element_ids, refs
