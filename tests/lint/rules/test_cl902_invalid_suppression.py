"""CL902 invalid-suppression."""

from ..helpers import findings

P = 'principle p { critique = "Harm?"  revision = "Fix." }'


def test_blanket_unknown_and_error_codes_are_flagged(tmp_path):
    body = (f"{P}  # constlang: ignore\n"
            f"{P.replace('p {', 'q {')}  # constlang: ignore[CL34]\n"
            f"{P.replace('p {', 'r {')}  # constlang: ignore[E101]\n")
    found = findings(tmp_path, body, "CL902")
    assert [d.message for d in found] == [
        "suppression comment names no code", "suppression names unknown code `CL34`",
        "compiler error E101 cannot be suppressed"]


def test_known_codes_are_fine(tmp_path):
    assert findings(tmp_path, f"{P}  # constlang: ignore[CL304, W001]\n", "CL902") == []
