"""Which key labels which class: the default, a project's own choice, and what is allowed.

A class's key is one letter or digit. The default is the class's own name when
every name is one distinct key (digits "0"-"9"); else 1-9 for the first nine
classes and 0 for the tenth. A project may save its own key per class (stored by
class id, so a key follows its class through a rename). The studio's own keys
(``C`` and ``R``, kept by Streamlit; ``S`` skip, ``U`` undo) are never a class's key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .errors import StoreError

RESERVED_KEYS = {"C": "Streamlit's own", "R": "Streamlit's own", "S": "Skip", "U": "Undo"}
"""Keys no class may take, with what they do."""
SETTING = "class_keys"
"""The project setting holding the saved keys: class id (as a string) -> key."""


def default_keys(class_names: Sequence[str]) -> list[str | None]:
    """The key of each class when the project has saved none.

    Examples
    --------
    >>> default_keys(["0", "1", "2"])
    ['0', '1', '2']
    >>> default_keys(["spam", "ham"])
    ['1', '2']
    >>> default_keys(["c", "d"])  # "C" is Streamlit's own key
    ['1', '2']
    """
    keys = [name.upper() for name in class_names]
    if all(_allowed(k) for k in keys) and len(set(keys)) == len(keys):
        return keys
    return [str(p + 1) if p < 9 else ("0" if p == 9 else None) for p in range(len(class_names))]


def check_keys(keys: Mapping[str, str]) -> dict[str, str]:
    """Validate keys chosen per class (class name -> key); blanks mean "no key".

    Returns the keys upper-cased, blanks left out. Raises ``StoreError`` naming
    the class and the key at fault.

    Examples
    --------
    >>> check_keys({"spam": "s ", "ham": "h"})
    Traceback (most recent call last):
    ...
    sslcore.errors.StoreError: The key 'S' of class 'spam' is taken by Skip; pick another.
    >>> check_keys({"spam": "x", "ham": "h", "other": ""})
    {'spam': 'X', 'ham': 'H'}
    """
    chosen: dict[str, str] = {}
    owner: dict[str, str] = {}
    for class_name, key in keys.items():
        key = (key or "").strip().upper()
        if not key:
            continue
        if key in RESERVED_KEYS:
            raise StoreError(
                f"The key {key!r} of class {class_name!r} is taken by {RESERVED_KEYS[key]}; "
                f"pick another."
            )
        if not _allowed(key):
            raise StoreError(
                f"The key {key!r} of class {class_name!r} is not one letter or digit; "
                f"pick one letter (A-Z) or digit (0-9)."
            )
        if key in owner:
            raise StoreError(
                f"The key {key!r} is given to both {owner[key]!r} and {class_name!r}; "
                f"give each class its own key."
            )
        owner[key] = class_name
        chosen[class_name] = key
    return chosen


def class_keys(project) -> list[str | None]:
    """The key of each of ``project.classes()``, in that order: saved, else the default.

    Examples
    --------
    >>> import tempfile
    >>> from sslcore.demos import create_demo_project
    >>> from sslcore.store import Store
    >>> project = create_demo_project(Store(tempfile.mkdtemp()), "moons", "m")
    >>> class_keys(project)
    ['1', '2']
    >>> save_keys(project, {"lower": "l", "upper": "p"})
    >>> class_keys(project)
    ['L', 'P']
    """
    infos = project.classes()
    defaults = default_keys([c.name for c in infos])
    saved = project.settings.get(SETTING)
    if not saved:
        return defaults
    keys = [saved.get(str(c.id)) or None for c in infos]
    # A class added after the keys were saved gets its default key, or the first free one.
    spare = [k for k in [*defaults, *_CANDIDATES] if k is not None]
    for position, info in enumerate(infos):
        if str(info.id) not in saved:
            keys[position] = next((k for k in spare if k not in keys), None)
    return keys


def save_keys(project, keys: Mapping[str, str]) -> None:
    """Check and save the key of each class (class name -> key, blank = no key)."""
    chosen = check_keys(keys)
    ids = {c.name: c.id for c in project.classes()}
    unknown = sorted(set(keys) - set(ids))
    if unknown:
        raise StoreError(f"There is no class {unknown[0]!r} in {project.name!r}.")
    # A blank is saved as "" so that "no key" is told apart from "added since".
    project.update_settings(**{SETTING: {str(ids[name]): chosen.get(name, "") for name in keys}})


def reset_keys(project) -> None:
    """Forget the project's saved keys: the defaults apply again."""
    project.update_settings(**{SETTING: {}})


_CANDIDATES = [*"1234567890", *(k for k in "ABDEFGHIJKLMNOPQTVWXYZ")]


def _allowed(key: str) -> bool:
    return len(key) == 1 and key.isascii() and key.isalnum() and key not in RESERVED_KEYS
