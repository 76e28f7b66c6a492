"""`wasm-bisect probe`: build and check one cell for real."""

from __future__ import annotations

from typing import Annotated

import typer

from wasm_bisect import config, report, toolchains
from wasm_bisect.bindgen import sources
from wasm_bisect.cli._common import (
    AllFeaturesOpt,
    BuildFailOpt,
    CheckOpt,
    ConfigOpt,
    CrateOpt,
    FeaturesOpt,
    JsonOpt,
    NoDefaultFeaturesOpt,
    PackageOpt,
    ParamOpt,
    ProfileOpt,
    QuietOpt,
    RefTypesOneOpt,
    SignatureOpt,
    StoreOpt,
    TargetOpt,
    TemplateOpt,
    TestOpt,
    TimeoutOpt,
    TimeoutVerdictOpt,
    VerboseOpt,
    command_line,
    emit_json,
    events,
    flag,
    parse_params,
    print_outcome,
    reproducer_flags,
)
from wasm_bisect.domain.model import BindgenSource, Variant
from wasm_bisect.domain.versions import parse_bindgen_version
from wasm_bisect.runs import single
from wasm_bisect.store import Store
from wasm_bisect.util import log


def register(app: typer.Typer) -> None:
    app.command("probe")(probe)


def bindgen_source(text: str) -> BindgenSource:
    """A crates.io version, or a git revision / local checkout (crate and CLI from the same sources)."""
    if text.startswith(("git+", "path:")) or "/" in text:
        return sources.resolve(text, progress=log.plain).source
    return BindgenSource.crates(parse_bindgen_version(text))


def probe(
    config_path: ConfigOpt = None,
    template: TemplateOpt = None,
    rustc: Annotated[str | None, typer.Option("--rustc", help="Toolchain, e.g. debian:1.96.0 (default: "
                                              "debian:1.96.0).")] = None,
    bindgen: Annotated[str | None, typer.Option("--bindgen", help="wasm-bindgen version (0.2.99), git+URL@REV or "
                                                "a checkout directory (default: 0.2.99).")] = None,
    reference_types: RefTypesOneOpt = None,
    param: ParamOpt = None,
    build_failure: BuildFailOpt = None,
    profile: ProfileOpt = None,
    target: TargetOpt = None,
    crate: CrateOpt = None,
    package: PackageOpt = None,
    features: FeaturesOpt = None,
    no_default_features: NoDefaultFeaturesOpt = None,
    all_features: AllFeaturesOpt = None,
    check: CheckOpt = None,
    signature: SignatureOpt = None,
    timeout: TimeoutOpt = None,
    timeout_verdict: TimeoutVerdictOpt = None,
    test: TestOpt = None,
    store_path: StoreOpt = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="Ignore a stored verdict and probe again.")] = False,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Build and check ONE variant for real and print its verdict with the evidence."""
    chosen = config.resolve("probe", config_path=config_path, template=template, rustc=rustc, bindgen=bindgen,
                            reference_types=reference_types, params=parse_params(param) or None,
                            build_failure=flag(build_failure), profile=flag(profile), target=flag(target),
                            store=store_path, **reproducer_flags(crate=crate, package=package, features=features,
                                               no_default_features=no_default_features, all_features=all_features,
                                               check=check, signature=signature, timeout=timeout,
                                               timeout_verdict=timeout_verdict, test=test))
    tmpl = config.reproducer(chosen)
    spec = config.single_rustc(chosen)
    rt = config.single_reference_types(chosen)
    assert chosen.bindgen is not None  # the probe defaults name one
    variant = Variant(template=tmpl.name, rustc=spec, bindgen=bindgen_source(chosen.bindgen), reference_types=rt,
                      options=chosen.options, params=tmpl.param_values(chosen.params))
    toolchains.check_known([spec])  # an unknown toolchain is bad input: say so before anything is written
    store = Store(chosen.store, notice=log.warn)
    result = single.execute(variant, tmpl, store, events(probes=False, stages=True), fresh=fresh,
                            command=command_line())
    if as_json:  # the report document (docs/report-schema.md), the probe's own answer under "probe"
        emit_json(report.load(store, result.run_id, environment=False))
    else:
        print_outcome(variant, result.outcome)
