"""Numbers read from a request (query strings, headers), the one way every view reads them."""
# Ids and cursors are 64-bit signed integers in both databases: a larger number would overflow the
# query (a 500) instead of matching nothing.
MAX_NUMBER = 2 ** 63 - 1


def whole_number(text, maximum=MAX_NUMBER):
    """`text` as a non-negative int, or None when it is anything but ASCII digits up to `maximum`.

    Not `text.isdigit()` then `int(text)`: isdigit() is true for `²` and `٣`, which int() refuses
    or reads as another script's digits; and int() of 5,000 digits raises. The length is bounded
    before int() is called, so no input costs more than a few microseconds."""
    if not isinstance(text, str) or not text.isascii() or not text.isdigit() or len(text) > len(str(maximum)):
        return None
    number = int(text)
    return number if number <= maximum else None
