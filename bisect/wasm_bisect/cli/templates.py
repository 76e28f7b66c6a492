"""`wasm-bisect templates list|show|init`: the reproducers."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from wasm_bisect import config
from wasm_bisect.cli._common import (
    NO_CHECK_FLAGS,
    AllFeaturesOpt,
    FeaturesOpt,
    JsonOpt,
    NoDefaultFeaturesOpt,
    PackageOpt,
    QuietOpt,
    VerboseOpt,
    bundled,
    emit_json,
    project_flags,
)
from wasm_bisect.domain.errors import UsageError
from wasm_bisect.domain.options import CheckOverrides
from wasm_bisect.probe import crate, export, templates
from wasm_bisect.runs import plan
from wasm_bisect.util import log, paths

group = typer.Typer(help="List, show and copy reproducer templates.", no_args_is_help=True)



@group.callback()
def group_options(verbose: VerboseOpt = False, quiet: QuietOpt = False) -> None:
    """-v and -q are accepted at this level too."""

def register(app: typer.Typer) -> None:
    app.add_typer(group, name="templates")


@group.command("list")
def templates_list(as_json: JsonOpt = False, verbose: VerboseOpt = False, quiet: QuietOpt = False) -> None:
    """Built-in templates."""
    items = [templates.load(name) for name in templates.builtin_names()]
    if as_json:
        emit_json([{"name": t.name, "description": t.description, "issue": t.issue} for t in items])
        return
    for t in items:
        sys.stdout.write(f"{t.name:18} {t.description}\n")


@group.command("show")
def templates_show(name: Annotated[str, typer.Argument(metavar="NAME", help="template name or directory")],
                   as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """A template's manifest, parameters and files."""
    t = templates.load(name)
    data = {"name": t.name, "description": t.description, "issue": t.issue, "root": str(t.root),
            "check": {"script": t.check_script, "timeout": t.timeout, "failure_signature": t.failure_signature},
            "params": {p.name: {"default": p.default, "description": p.description} for p in t.params.values()},
            "expect": t.expect, "files": sorted(t.files), "content_hash": t.content_hash, "check_hash": t.check_hash}
    if as_json:
        emit_json(data)
        return
    sys.stdout.write(f"{t.name}: {t.description}\n")
    if t.issue:
        sys.stdout.write(f"issue: {t.issue}\n")
    sys.stdout.write(f"check: {t.check_script} (timeout {t.timeout:.0f} s"
                     + (f", failure signature /{t.failure_signature}/" if t.failure_signature else "") + ")\n")
    for p in t.params.values():
        sys.stdout.write(f"param {p.name} = {p.default!r}  {p.description}\n")
    sys.stdout.write("files: " + ", ".join(sorted(t.files)) + "\n")


@group.command("init")
@bundled
def templates_init(
    name: Annotated[str, typer.Argument(metavar="NAME",
                                        help="template to copy (with --from-crate: the new directory)")],
    dest: Annotated[Path | None, typer.Argument(metavar="DEST", help="new directory to create")] = None,
    from_crate: Annotated[Path | None, typer.Option("--from-crate", help="Make the template from your own "
                                                    "project (as --crate takes it) instead of copying one.")] = None,
    template_name: Annotated[str | None, typer.Option("--name", help="With --from-crate: the template's name "
                                                      "(default: from the directory name).")] = None,
    package: PackageOpt = None,
    features: FeaturesOpt = None,
    no_default_features: NoDefaultFeaturesOpt = None,
    all_features: AllFeaturesOpt = None,
    checks: CheckOverrides = NO_CHECK_FLAGS,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Copy a template into DEST for you to edit; then pass `--template DEST`.

    With `--from-crate DIR` (and the --package/--features/--check of crate mode), turn your project into a
    self-contained template in the new directory NAME: for sharing the reproducer in an upstream issue.
    """
    if from_crate is None:
        if dest is None:
            raise UsageError("templates init needs NAME and DEST", hint="e.g. templates init smoke ./my-template")
        out = templates.init(name, dest)
        log.out().print(f"copied template {name} to {out}; edit it (how: {paths.doc('templates.md')}), then run "
                        f"`wasm-bisect probe --template {out} ...`", markup=False)
        return
    if dest is not None:
        raise UsageError("with --from-crate, give only the new directory", hint="templates init --from-crate DIR NEW")
    target = Path(name)
    given = project_flags(crate=from_crate, package=package, features=features,
                          no_default_features=no_default_features, all_features=all_features)
    chosen = config.settings(config.Config(), config.Flags(project=given, checks=checks), command="probe")
    project = plan.reproducer(chosen)
    assert isinstance(project, crate.CrateProject)
    wanted = template_name or re.sub(r"[^a-z0-9-]+", "-", target.name.lower()).strip("-") or "from-crate"
    if not wanted[0].isalpha():
        wanted = f"t-{wanted}"
    files = export.template_files(project, name=wanted[:64])
    out = templates.write_made(target, files, check={"command": project.check.flag_value(),
                                                     "failure_signature": project.check.failure_signature})
    log.out().print(f"made template {wanted} from {project.root} (package {project.package}) in {out}; run it with "
                    f"`wasm-bisect probe --template {out} ...`", markup=False)
