"""Case-sensitive text matching on every database, for external ids inside longer text.

External ids are the product's, and `U-1` is not `u-1`. Django's `__contains` and `__startswith`
are SQLite's LIKE there, which ignores ASCII case (erasing user `U-1` deleted `u-1`'s pending
webhooks); `=` and `IN` compare exactly on both databases and need nothing. These compare
exactly everywhere: INSTR/STRPOS and SUBSTR/LEFT. Neither uses an index, as LIKE '%…%' would not.
"""
from django.db.models import Value
from django.db.models.functions import Left, StrIndex
from django.db.models.lookups import Exact, GreaterThan


def contains(field, text):
    """A filter expression: `field` contains `text`, case-sensitively (for .filter() / .exclude())."""
    return GreaterThan(StrIndex(field, Value(text)), 0)


def startswith(field, prefix):
    """A filter expression: `field` starts with `prefix`, case-sensitively."""
    return Exact(Left(field, len(prefix)), Value(prefix))
