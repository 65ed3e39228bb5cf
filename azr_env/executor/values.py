"""Comparing values produced in the sandbox, in the trusted process, without `eval`.

Re-exports the codec's trusted-side half: `decode` rebuilds a value from its tree using only
constructors of built-in types; `values_equal` is Python `==` with NaN equal to NaN;
`trees_equal` does both. See `sandbox/codec.py` for the encoding.
"""

from .sandbox.codec import (
    NAN,
    DecodeError,
    Opaque,
    contains_opaque,
    decode,
    trees_equal,
    values_equal,
)

__all__ = ["NAN", "DecodeError", "Opaque", "contains_opaque", "decode", "trees_equal",
           "values_equal"]
