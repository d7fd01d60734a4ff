from dockyard.cli import main


def test_version(capsys):
    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    assert "dockyard" in capsys.readouterr().out


def test_debian_image_runs(podman, debian_trixie):
    done = podman.run(debian_trixie, ["cat", "/etc/debian_version"])
    assert done.ok, done.stderr
    assert done.stdout.strip().startswith(("13", "trixie"))


def test_progress_without_a_terminal_says_each_new_line_and_when_none_came():
    import time

    from dockyard.testing.cli import recording_ui

    ui, out, err = recording_ui()
    with ui.step("Long work", every=0.3) as progress:  # checked once a second
        time.sleep(1.3)  # nothing said yet: "still at work", with no empty tail
        progress("pypi torch 2.7.1")
        time.sleep(1.2)
    said = err.export_text() + out.export_text()
    assert "still at work\n" in said and "still at work:" not in said.split("torch")[0], said
    assert "] pypi torch 2.7.1" in said and "✓ Long work (" in said, said
