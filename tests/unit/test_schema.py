"""The one JSON validator (hpa_sklearn._io.schema): each type accepts what it should and refuses
the rest, and a defect is one error naming the file, the key path and what is wrong."""

import math
import re

import pytest

from hpa_sklearn._io.schema import (
    Any,
    Bool,
    Const,
    Int,
    List,
    Map,
    Null,
    Num,
    Obj,
    OneOf,
    Optional,
    Str,
    check,
    fail,
)
from hpa_sklearn.exceptions import HPASklearnError, InputError, ModelFolderError


def _refusal(document, schema, where="doc.json", **kwargs):
    with pytest.raises(ModelFolderError) as info:
        check(document, schema, where, **kwargs)
    return str(info.value)


@pytest.mark.parametrize("schema, good, bad", [
    (Int(), [0, -3, 10**12], [True, 1.0, "1", None]),
    (Int(minimum=1, maximum=3), [1, 3], [0, 4]),
    (Num(), [0, 1.5, -2, 10**3], [True, "1", math.nan, math.inf, -math.inf, None]),
    (Num(minimum=0), [0, 0.5], [-1e-9]),
    (Bool(), [True, False], [0, 1, "true", None]),
    (Str(), ["", "a"], [1, None, b"a", ["a"]]),
    (Str({"a", "b"}), ["a", "b"], ["c", "A"]),
    (Str(pattern=re.compile(r"[0-9a-f]{4}")), ["00af"], ["00AF", "00af0", "x00af"]),
    (Const(1), [1], [True, 1.0, "1", 2]),
    (Null(), [None], [0, "", False]),
    (Optional(Int()), [None, 4], ["4", 4.5]),
    (List(Int()), [[], [1, 2]], [(1, 2), {"0": 1}, "12"]),
    (List(Int(), length=2), [[1, 2]], [[1], [1, 2, 3]]),
    (List(Int(), min_length=1), [[1]], [[]]),
    (Map(Bool()), [{}, {"a": True}], [[True], None]),
    (Any(), [None, 1, "x", [1], {"a": [None]}], []),
])
def test_each_type_accepts_its_values_and_refuses_the_rest(schema, good, bad):
    for value in good:
        assert check(value, schema, "doc.json") == value
    for value in bad:
        message = _refusal(value, schema)
        assert message.startswith("doc.json: (top level): "), message


def test_items_of_lists_and_maps_are_named_by_index_and_key():
    assert _refusal([1, "2"], List(Int())) == "doc.json: [1]: '2' is not an integer."
    assert _refusal({"a": True, "b": 1}, Map(Bool())) == "doc.json: b: 1 is not true or false."
    assert _refusal([[1], [2, None]], List(List(Int()))) == (
        "doc.json: [1][1]: None is not an integer.")


def test_obj_required_optional_and_unknown_keys():
    schema = Obj({"name": Str()}, optional={"note": Str()})
    assert check({"name": "a"}, schema, "f.json") == {"name": "a"}
    assert check({"name": "a", "note": "n"}, schema, "f.json") == {"name": "a", "note": "n"}
    assert _refusal({}, schema, "f.json") == "f.json: name: missing."
    assert _refusal({"name": "a", "speed": 1}, schema, "f.json") == "f.json: speed: unknown key."
    assert _refusal({"name": "a", "note": 3}, schema, "f.json") == (
        "f.json: note: 3 is not a string.")
    assert _refusal(["name"], schema, "f.json") == "f.json: (top level): ['name'] is not an object."
    lenient = Obj({"name": Str()}, extra=True)
    assert check({"name": "a", "speed": 1}, lenient, "f.json") == {"name": "a", "speed": 1}


def test_the_key_path_of_a_nested_defect_is_named():
    schema = Obj({"params": Obj({"threshold": List(Num(minimum=0))}),
                  "files": Map(Obj({"bytes": Int(minimum=0)}))})
    document = {"params": {"threshold": [0.1, 0.2, 0.3, "x"]}, "files": {"a": {"bytes": 1}}}
    assert _refusal(document, schema, "m.json") == (
        "m.json: params.threshold[3]: 'x' is not a finite number.")
    document = {"params": {"threshold": []}, "files": {"model.keras": {"bytes": -1}}}
    assert _refusal(document, schema, "m.json") == "m.json: files.model.keras.bytes: -1 is below 0."


def test_one_of_reports_every_alternative_once():
    schema = Obj({"a": OneOf(Str(), Bool(), Str({"x"}))})
    assert _refusal({"a": 1}, schema, "f") == "f: a: 1 is not a string / 1 is not true or false."
    assert check({"a": False}, schema, "f") == {"a": False}


def test_a_rule_checks_how_values_fit_together():
    def rule(doc, path):
        if doc["low"] > doc["high"]:
            fail(f"{path}.low" if path else "low", f"{doc['low']} is above high ({doc['high']})")

    schema = Obj({"range": Obj({"low": Int(), "high": Int()}, rule=rule)})
    assert check({"range": {"low": 1, "high": 2}}, schema, "f")
    assert _refusal({"range": {"low": 3, "high": 2}}, schema, "f") == (
        "f: range.low: 3 is above high (2).")


def test_advice_and_error_class():
    message = _refusal({"a": "1"}, Obj({"a": Int()}), "x.json", advice="Save it again.")
    assert message == "x.json: a: '1' is not an integer. Save it again."
    with pytest.raises(TypeError, match=r"^x\.json: a: '1' is not an integer\.$"):
        check({"a": "1"}, Obj({"a": Int()}), "x.json", error=TypeError)
    # the default error is the library's: an InputError (a ValueError) about a model folder
    with pytest.raises(ModelFolderError) as info:
        check(None, Obj({}), "x.json")
    assert isinstance(info.value, InputError) and isinstance(info.value, ValueError)
    assert isinstance(info.value, HPASklearnError)


def test_long_values_are_shortened_in_the_message():
    message = _refusal("z" * 500, Int())
    assert len(message) < 120 and message.endswith("... is not an integer.")


def test_the_checked_document_is_a_copy_with_the_same_values():
    document = {"name": "a", "sizes": [1, 2]}
    checked = check(document, Obj({"name": Str(), "sizes": List(Int(minimum=1))}), "f")
    assert checked == document and checked is not document
