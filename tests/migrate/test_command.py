"""``drum-bridge migrate`` as a user runs it: the report, --write, --check and their exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from drum_bridge.cli import main

from .conftest import ALIKE, GUIDE, UNTRANSLATABLE, MakeModel


def migrate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["migrate", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_report_lists_each_piece_with_its_verdict(make_model: MakeModel, capsys: pytest.CaptureFixture[str]) -> None:
    code_dir = make_model(GUIDE / "flask_route.py")
    code, out, _ = migrate(capsys, "--code-dir", str(code_dir))
    assert code == 0
    assert "[automatic] blueprint custom (line 3)" in out
    assert "[automatic] route GET /custom/status (line 6)" in out
    assert "@custom_bp.api_route('/custom/status', name='custom.status')" in out
    assert not (code_dir / "custom_fastapi.py").exists(), "the report alone writes nothing"


def test_report_of_extensions(make_model: MakeModel, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    source = tmp_path / "limited.py"
    source.write_text(
        "from flask_cors import CORS\nfrom flask_limiter import Limiter\n\n\n"
        "def init_app(app):\n    CORS(app)\n    app.config['X'] = 1\n"
    )
    code, out, _ = migrate(capsys, "--code-dir", str(make_model(source)))
    assert code == 0
    assert "[needs a look] extension flask_cors.CORS (line 6)" in out
    assert "becomes: CORSMiddleware" in out
    assert "[not translatable] extension flask_limiter (line 2)" in out
    assert "slowapi" in out
    assert "[not translatable] other app.config['X'] = 1 (line 7)" in out


@pytest.mark.parametrize("example", sorted(ALIKE))
def test_examples_migrate_and_check_with_zero_differences(
    example: str, make_model: MakeModel, capsys: pytest.CaptureFixture[str]
) -> None:
    code_dir = make_model(ALIKE[example])
    code, out, err = migrate(capsys, "--code-dir", str(code_dir), "--write")
    assert (code, err) == (0, "")
    written = (code_dir / "custom_fastapi.py").read_text()
    assert "BaseHTTPMiddleware" not in written and "TODO" not in written.split('"""', 2)[2]
    code, out, err = migrate(capsys, "--code-dir", str(code_dir), "--check", "--target-type", "regression")
    assert f"Checking {code_dir / 'custom_fastapi.py'} against" in out
    assert "No differences: custom_fastapi.py answers as custom_flask.py does." in out, out
    assert code == 0


def test_untranslatable_hook_is_reported_marked_and_named_by_check(
    make_model: MakeModel, capsys: pytest.CaptureFixture[str]
) -> None:
    code_dir = make_model(UNTRANSLATABLE)
    code, out, _ = migrate(capsys, "--code-dir", str(code_dir), "--write")
    assert code == 0
    assert "[not translatable] before_request remember_caller (line 6)" in out
    assert "why: it uses flask.g" in out
    written = (code_dir / "custom_fastapi.py").read_text()
    assert "# TODO(drum-bridge migrate): after_request name_caller (line 10) was not translated:" in written
    assert '#         response.headers["X-Served-For"] = g.caller' in written  # the original, quoted
    code, out, _ = migrate(capsys, "--code-dir", str(code_dir), "--check", "--target-type", "regression")
    assert code == 1
    assert "GET /info/: header x-served-for 'anonymous' (custom_flask.py) != None (custom_fastapi.py)" in out
    assert "GET /info/ [X-Caller: wrong-value]: header x-served-for 'wrong-value'" in out


def test_check_names_the_guide_fastapi_example_difference(
    make_model: MakeModel, capsys: pytest.CaptureFixture[str]
) -> None:
    """The guide's hand-written FastAPI auth answers 401 on / where Flask answered 200."""
    code_dir = make_model(GUIDE / "flask_auth.py")
    (code_dir / "custom_fastapi.py").write_text((GUIDE / "fastapi_auth.py").read_text())
    code, out, _ = migrate(capsys, "--code-dir", str(code_dir), "--check", "--target-type", "regression")
    assert code == 1
    assert "GET /: status 200 (custom_flask.py) != 401 (custom_fastapi.py)" in out
    assert "GET /ping/: status" not in out


def test_check_without_writing_checks_the_generated_text(
    make_model: MakeModel, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TARGET_TYPE", "regression")
    code_dir = make_model(GUIDE / "flask_auth.py")
    code, out, _ = migrate(capsys, "--code-dir", str(code_dir), "--check")
    assert code == 0 and "Checking the generated custom_fastapi.py (not written" in out
    assert not (code_dir / "custom_fastapi.py").exists()


def test_write_never_overwrites_without_force(make_model: MakeModel, capsys: pytest.CaptureFixture[str]) -> None:
    code_dir = make_model(GUIDE / "flask_auth.py")
    target = code_dir / "custom_fastapi.py"
    target.write_text("# mine\n")
    code, _, err = migrate(capsys, "--code-dir", str(code_dir), "--write")
    assert code == 1 and "exists; --force replaces it" in err
    assert target.read_text() == "# mine\n"
    code, out, _ = migrate(capsys, "--code-dir", str(code_dir), "--write", "--force")
    assert code == 0 and f"Wrote {target}." in out
    assert "class CheckAuthMiddleware:" in target.read_text()


def test_usage_errors(make_model: MakeModel, capsys: pytest.CaptureFixture[str], tmp_path: Path,
                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TARGET_TYPE", raising=False)
    code, _, err = migrate(capsys, "--code-dir", str(tmp_path))
    assert code == 2 and "no custom_flask.py in" in err
    code, _, err = migrate(capsys, "--code-dir", str(make_model(GUIDE / "flask_auth.py")), "--check")
    assert code == 2 and "--check needs the model's target type" in err
    broken = tmp_path / "broken.py"
    broken.write_text("def init_app(app:\n")
    code, _, err = migrate(capsys, "--code-dir", str(make_model(broken)))
    assert code == 2 and "is not valid Python" in err


def test_help() -> None:
    done = subprocess.run([sys.executable, "-m", "drum_bridge.cli", "migrate", "--help"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and "--check" in done.stdout and "--force" in done.stdout


FLASK_HELPER = '''
from flask import request
from flask_cors import CORS

cors = CORS(origins=["https://app.example.com"])
TOKEN = "abc"


def authorized():
    return request.headers.get("X-Key") == TOKEN


def init_app(app):
    cors.init_app(app)

    @app.before_request
    def via_helper():
        if not authorized():
            return "nope", 403
'''


def test_hook_calling_a_flask_helper_is_not_translated(
    make_model: MakeModel, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "helper.py"
    source.write_text(FLASK_HELPER)
    code_dir = make_model(source)
    code, out, _ = migrate(capsys, "--code-dir", str(code_dir), "--write")
    assert code == 0
    assert "[not translatable] before_request via_helper (line 17)" in out
    assert "why: it uses authorized, which is built on request" in out
    assert "[not translatable] other authorized (line 9)" in out
    assert "[needs a look] extension flask_cors.CORS (line 14)" in out
    written = (code_dir / "custom_fastapi.py").read_text()
    assert "allow_origins=['https://app.example.com']" in written
    assert "TOKEN = 'abc'" in written and "def authorized" not in written.replace("#     def authorized", "")
    code, out, _ = migrate(capsys, "--code-dir", str(code_dir), "--check", "--target-type", "regression")
    assert code == 1
    assert "GET /info/ [X-Key: abc]:" not in out  # the key passes both
    assert "GET /info/: status 403 (custom_flask.py) != 200 (custom_fastapi.py)" in out
    assert "access-control" not in out  # CORS answers alike, for the named origin and any other


def test_extension_without_counterpart_writes_a_loadable_file(
    make_model: MakeModel, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "limiter.py"
    source.write_text("from flask_limiter import Limiter\n\n\ndef init_app(app):\n    Limiter(app)\n")
    code_dir = make_model(source)
    code, out, _ = migrate(capsys, "--code-dir", str(code_dir), "--write")
    assert code == 0
    assert "[not translatable] other Limiter(app) (line 5)" in out and "why: it uses flask_limiter.Limiter" in out
    written = (code_dir / "custom_fastapi.py").read_text()
    assert "    #     Limiter(app)\n    pass\n" in written
    namespace: dict[str, object] = {}
    exec(compile(written, "custom_fastapi.py", "exec"), namespace)  # it loads: init_app is a function
    assert callable(namespace["init_app"])


def test_check_says_when_the_original_cannot_be_served(
    make_model: MakeModel, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "missing.py"
    source.write_text("from flask_no_such_extension import Thing\n\n\ndef init_app(app):\n    Thing(app)\n")
    code_dir = make_model(source)
    code, out, err = migrate(capsys, "--code-dir", str(code_dir), "--check", "--target-type", "regression")
    assert "[not translatable] extension flask_no_such_extension (line 1)" in out
    assert code == 1
    assert "error: custom_flask.py cannot be served, so it cannot be compared:" in err
    assert "No module named 'flask_no_such_extension'" in err and str(code_dir) in err
