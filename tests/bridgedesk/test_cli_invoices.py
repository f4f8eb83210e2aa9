"""`bridgedesk invoices run`: progress on stdout, a clear error and exit status for a bad month."""

import os
import subprocess
from pathlib import Path

from tests.server_process import BIN, run_cli


def test_invoices_run_prints_progress_and_refuses_a_bad_month(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bridgedesk.db'}"
    output = run_cli(url, "invoices", "run", "--month", "2026-10")
    assert output.strip().splitlines()[-1] == (
        "2026-10: 0 draft invoice(s), 0 conferences, 0 empty draft(s) removed"
    )
    done = subprocess.run(
        [str(BIN / "bridgedesk"), "invoices", "run", "--month", "2026-13"],
        env={**os.environ, "BRIDGEDESK_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "month must be YYYY-MM" in done.stderr
