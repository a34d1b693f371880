"""The one validator of the JSON files this library reads back (model manifests, training states,
cache metadata): a schema is a small tree of the types below, and :func:`check` walks a parsed
document along it. A defect is one :class:`~hpa_sklearn.exceptions.ModelFolderError` (or the
``error`` class given) naming the file and the key path (``params.threshold[3]``).

Examples
--------
>>> from hpa_sklearn._io.schema import Int, Obj, Str, List, check
>>> schema = Obj({"name": Str(), "sizes": List(Int(minimum=1))}, optional={"note": Str()})
>>> check({"name": "a", "sizes": [1, 2]}, schema, "x.json")
{'name': 'a', 'sizes': [1, 2]}
>>> check({"name": "a", "sizes": [0]}, schema, "x.json")
Traceback (most recent call last):
...
hpa_sklearn.exceptions.ModelFolderError: x.json: sizes[0]: 0 is below 1.
"""

import math

from ..exceptions import ModelFolderError


class SchemaError(Exception):
    """Raised inside :func:`check`; carries the key path and what is wrong."""

    def __init__(self, path, what):
        super().__init__(what)
        self.path = path
        self.what = what


def _fail(path, what):
    raise SchemaError(path or "(top level)", what)


def _describe(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Any:
    """Any JSON value."""

    def validate(self, value, path):
        return value


class Bool:
    def validate(self, value, path):
        if not isinstance(value, bool):
            _fail(path, f"{_describe(value)} is not true or false")
        return value


class Int:
    def __init__(self, *, minimum=None, maximum=None):
        self.minimum, self.maximum = minimum, maximum

    def validate(self, value, path):
        if not isinstance(value, int) or isinstance(value, bool):
            _fail(path, f"{_describe(value)} is not an integer")
        if self.minimum is not None and value < self.minimum:
            _fail(path, f"{value} is below {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            _fail(path, f"{value} is above {self.maximum}")
        return value


class Num:
    """A finite number (int or float)."""

    def __init__(self, *, minimum=None):
        self.minimum = minimum

    def validate(self, value, path):
        if (not isinstance(value, (int, float)) or isinstance(value, bool)
                or not math.isfinite(value)):
            _fail(path, f"{_describe(value)} is not a finite number")
        if self.minimum is not None and value < self.minimum:
            _fail(path, f"{value} is below {self.minimum}")
        return value


class Str:
    def __init__(self, choices=None, *, pattern=None):
        self.choices, self.pattern = choices, pattern

    def validate(self, value, path):
        if not isinstance(value, str):
            _fail(path, f"{_describe(value)} is not a string")
        if self.choices is not None and value not in self.choices:
            _fail(path, f"{_describe(value)} is not one of {sorted(self.choices)}")
        if self.pattern is not None and not self.pattern.fullmatch(value):
            _fail(path, f"{_describe(value)} is not a valid value here")
        return value


class Const:
    def __init__(self, value):
        self.value = value

    def validate(self, value, path):
        if value != self.value or type(value) is not type(self.value):
            _fail(path, f"{_describe(value)}, expected {self.value!r}")
        return value


class Null:
    def validate(self, value, path):
        if value is not None:
            _fail(path, f"{_describe(value)}, expected null")
        return value


class OneOf:
    """The first alternative that accepts the value."""

    def __init__(self, *alternatives):
        self.alternatives = alternatives

    def validate(self, value, path):
        problems = []
        for alternative in self.alternatives:
            try:
                return alternative.validate(value, path)
            except SchemaError as exc:
                problems.append(exc.what)
        _fail(path, " / ".join(dict.fromkeys(problems)))


def Optional(inner):  # noqa: N802 (reads like a type)
    """``inner`` or null."""
    return OneOf(Null(), inner)


class List:
    def __init__(self, item, *, length=None, min_length=0):
        self.item, self.length, self.min_length = item, length, min_length

    def validate(self, value, path):
        if not isinstance(value, list):
            _fail(path, f"{_describe(value)} is not a list")
        if self.length is not None and len(value) != self.length:
            _fail(path, f"has {len(value)} items, expected {self.length}")
        if len(value) < self.min_length:
            _fail(path, f"has {len(value)} items, expected at least {self.min_length}")
        return [self.item.validate(v, f"{path}[{i}]") for i, v in enumerate(value)]


class Map:
    """An object with free keys (strings) and values of one schema."""

    def __init__(self, value):
        self.value = value

    def validate(self, value, path):
        if not isinstance(value, dict):
            _fail(path, f"{_describe(value)} is not an object")
        prefix = f"{path}." if path else ""
        return {k: self.value.validate(v, prefix + k) for k, v in value.items()}


class Obj:
    """An object with the ``required`` keys, the ``optional`` ones, and no other (unless
    ``extra``); ``rule(obj, path)`` may check how the values fit together."""

    def __init__(self, required, *, optional=None, extra=False, rule=None):
        self.required, self.optional = dict(required), dict(optional or {})
        self.extra, self.rule = extra, rule

    def validate(self, value, path):
        if not isinstance(value, dict):
            _fail(path, f"{_describe(value)} is not an object")
        prefix = f"{path}." if path else ""
        for key in self.required:
            if key not in value:
                _fail(prefix + key, "missing")
        if not self.extra:
            for key in value:
                if key not in self.required and key not in self.optional:
                    _fail(prefix + key, "unknown key")
        out = dict(value)
        for key, schema in {**self.required, **self.optional}.items():
            if key in value:
                out[key] = schema.validate(value[key], prefix + key)
        if self.rule is not None:
            self.rule(out, path)
        return out


def check(document, schema, where, *, error=ModelFolderError, advice=None, path=""):
    """Validate ``document`` against ``schema``; return it (checked values) or raise ``error``
    naming ``where`` (the file), the key path and what is wrong, then ``advice``. ``path`` is the
    key path of ``document`` inside its file (a section such as ``"fitted"``)."""
    try:
        return schema.validate(document, path)
    except SchemaError as exc:
        tail = f" {advice}" if advice else ""
        raise error(f"{where}: {exc.path}: {exc.what}.{tail}") from None


def fail(path, what):
    """For ``rule`` functions: report a defect at ``path``."""
    _fail(path, what)
