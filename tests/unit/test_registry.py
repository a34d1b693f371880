"""The engine's tables as names (hpa_sklearn._engine.registry): a live, case-insensitive name set
for parameter constraints, the documentation listing, and the closest names to a mistyped one."""

from collections import namedtuple

import pytest
from sklearn.utils._param_validation import StrOptions

from hpa_sklearn._engine.backbones import BACKBONES
from hpa_sklearn._engine.losses import LOSSES
from hpa_sklearn._engine.optimizers import OPTIMIZERS
from hpa_sklearn._engine.registry import NamesOf, closest, listing
from hpa_sklearn._engine.schedules import SCHEDULES
from hpa_sklearn._engine.tta import TTA_MODES

Entry = namedtuple("Entry", "description")


@pytest.mark.parametrize("typed, expected", [
    ("vgg61", "vgg16"),  # transposed digits
    ("VGG16", "vgg16"),  # another case
    ("resnet", "resnet50"),  # a prefix
    ("mobilenet", "mobilenetv3small"),
    ("densenet", "densenet121"),
    ("efficientnet", "efficientnetv2b0"),
    ("small_cnn", "smallcnn"),
])
def test_closest_backbone_names(typed, expected):
    found = closest(typed, BACKBONES)
    assert found[0] == expected, found
    assert len(found) <= 3 and len(set(found)) == len(found)
    assert set(found) <= set(BACKBONES)


@pytest.mark.parametrize("table, typed, expected", [
    (OPTIMIZERS, "adm", "adam"),
    (OPTIMIZERS, "adagard", "adagrad"),
    (SCHEDULES, "cosine", "warmup_cosine"),
    (SCHEDULES, "onecycle", "one_cycle"),
    (LOSSES, "focall", "focal"),
    (LOSSES, "binary_cross_entropy", "binary_crossentropy"),
    (TTA_MODES, "flip", "flips"),
])
def test_closest_names_in_the_other_tables(table, typed, expected):
    assert closest(typed, table)[0] == expected


def test_nothing_close_gives_no_suggestion():
    assert closest("xyz", BACKBONES) == []
    assert closest("", BACKBONES) == []
    assert closest(42, OPTIMIZERS) == []
    assert closest("adam", []) == []


def test_at_most_three_suggestions_best_first():
    names = ["step1", "step2", "step3", "step4", "stop"]
    found = closest("step", names)
    assert len(found) == 3 and set(found) <= {"step1", "step2", "step3", "step4"}
    assert closest("step3", names)[0] == "step3"


def test_names_of_a_table_is_live_and_case_insensitive():
    table = {"adam": Entry("Adam"), "sgd": Entry("SGD")}
    names = NamesOf(table)
    assert "adam" in names and "ADAM" in names and "Sgd" in names
    assert "lion" not in names and None not in names and 3 not in names
    constraint = StrOptions(names)
    assert constraint.is_satisfied_by("Adam") and not constraint.is_satisfied_by("lion")
    table["lion"] = Entry("added later")  # a new entry is accepted at once
    assert "lion" in names and constraint.is_satisfied_by("lion")
    assert len(names) == 3 and sorted(names) == ["adam", "lion", "sgd"]
    assert isinstance(names | {"x"}, frozenset) and names & {"sgd", "x"} == {"sgd"}
    strict = NamesOf(table, ignore_case=False)
    assert "adam" in strict and "ADAM" not in strict


def test_every_real_table_is_keyed_by_lower_case_names():
    # NamesOf lowers what it is asked, so a key with a capital letter could never be chosen
    for table in (BACKBONES, SCHEDULES, LOSSES, OPTIMIZERS, TTA_MODES):
        names = NamesOf(table)
        assert all(name == name.lower() and name in names for name in table), list(table)


def test_listing_quotes_names_with_their_descriptions():
    table = {"a": Entry("the first"), "b": Entry(""), "c": object()}
    assert listing(table) == '"a" (the first); "b"; "c"'
    text = listing(BACKBONES)
    assert all(f'"{name}" (' in text for name in BACKBONES)
    assert text.index('"vgg16"') < text.index('"smallcnn"')  # the table's order
