"""Helpers shared by the tests (imported as ``helpers.*``; no test imports another test
module)."""
