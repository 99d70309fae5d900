"""Keys per class: the defaults, a project's saved choice, and the keys no class may take."""

import pytest

from sslcore.errors import StoreError
from sslcore.keys import check_keys, class_keys, default_keys, reset_keys, save_keys


def test_digits_keep_their_own_keys_and_other_names_get_numbers():
    assert default_keys([str(d) for d in range(10)]) == list("0123456789")
    assert default_keys(["spam", "ham"]) == ["1", "2"]
    assert default_keys([f"c{i}" for i in range(11)])[-2:] == ["0", None]
    assert default_keys(["a", "A"]) == ["1", "2"]  # one key for two classes
    assert default_keys(["s", "x"]) == ["1", "2"]  # S is Skip


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"spam": "U"}, "The key 'U' of class 'spam' is taken by Undo"),
        ({"spam": "r"}, "The key 'R' of class 'spam' is taken by Streamlit's own"),
        ({"spam": "ab"}, "The key 'AB' of class 'spam' is not one letter or digit"),
        ({"spam": "é"}, "The key 'É' of class 'spam' is not one letter or digit"),
        ({"spam": "x", "ham": "X"}, "The key 'X' is given to both 'spam' and 'ham'"),
    ],
)
def test_bad_keys_are_refused_with_the_class_named(keys, message):
    with pytest.raises(StoreError, match=message):
        check_keys(keys)


def test_saved_keys_follow_their_class_and_new_classes_get_a_free_key(project):
    assert class_keys(project) == ["1", "2", "3"]  # classes 'a', 'b', '-1'
    save_keys(project, {"a": "j", "b": "k", "-1": ""})
    assert class_keys(project) == ["J", "K", None]
    project.rename_class("a", "alpha")
    project.add_class("c")
    assert class_keys(project) == ["J", "K", None, "1"]  # the first default key free
    reopened = project.store.open_project(project.id)
    assert class_keys(reopened) == ["J", "K", None, "1"]
    reset_keys(project)
    assert class_keys(project) == ["1", "2", "3", "4"]


def test_a_refused_choice_changes_nothing(project):
    save_keys(project, {"a": "j"})
    with pytest.raises(StoreError, match="given to both"):
        save_keys(project, {"a": "k", "b": "k"})
    with pytest.raises(StoreError, match="There is no class 'zzz'"):
        save_keys(project, {"zzz": "q"})
    assert class_keys(project)[0] == "J"
