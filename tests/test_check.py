"""zegclip check passes on matching numbers and fails, with a table, beyond tolerance."""
import json
from pathlib import Path

import pytest

from test_report import _write_results
from zegclip.cli import main
from zegclip.paper.runs import table_rows
from zegclip.paper.layout import result_path


def _paper_results(root, table, perturb=None):
    """Results equal to the paper's numbers (one run may be moved by ``perturb`` points)."""
    for row in table_rows(table):
        path = result_path(root, "paper", row.run.key("paper"), 0, row.target)
        path.parent.mkdir(parents=True, exist_ok=True)
        shift = perturb[1] if perturb and perturb[0] == (row.key, row.dataset) else 0.0
        values = dict(zip(("pAcc", "mIoU_S", "mIoU_U", "hIoU"), row.reported))
        path.write_text(json.dumps({"metrics": {k: v + shift for k, v in values.items()}}))


def _report(root, scale, table, seeds=("0",)):
    assert main(["report", "--table", table, "--scale", scale, "--results", str(root), "--seeds", *seeds,
                 "--out", str(root / f"{table}.md")]) == 0


def test_paper_scale_passes_within_and_fails_beyond_tolerance(tmp_path, capsys):
    root = tmp_path / "results"
    _paper_results(root, "table8", perturb=(("l4_12", "voc"), 1.5))
    _report(root, "paper", "table8")
    assert main(["check", "--scale", "paper", "--tables", "table8", "--results", str(root)]) == 0
    _paper_results(root, "table8", perturb=(("l4_12", "voc"), 2.5))
    _report(root, "paper", "table8")
    capsys.readouterr()
    assert main(["check", "--scale", "paper", "--tables", "table8", "--results", str(root)]) == 1
    out = capsys.readouterr().out
    assert "4 of 32 compared numbers are outside tolerance" in out
    failures = [line for line in out.splitlines() if line.startswith("| table8")]
    assert len(failures) == 4 and all("l4_12" in f and "2.5 |" in f and "nan" not in f for f in failures)
    assert main(["check", "--scale", "paper", "--tables", "table8", "--results", str(root),
                 "--tolerance", "pAcc=3", "--tolerance", "mIoU_S=3", "--tolerance", "mIoU_U=3",
                 "--tolerance", "hIoU=3"]) == 0


def test_mini_scale_uses_golden_numbers(tmp_path, capsys):
    root = tmp_path / "results"
    golden = tmp_path / "golden.json"
    _write_results(root, "table8", seeds=[0, 1])
    _report(root, "mini", "table8", seeds=("0", "1"))
    assert main(["check", "--tables", "table8", "--results", str(root), "--golden", str(golden),
                 "--write-golden"]) == 0
    assert main(["check", "--tables", "table8", "--results", str(root), "--golden", str(golden)]) == 0
    _write_results(root, "table8", seeds=[0, 1], offset=400.0)  # every number moved far beyond its tolerance
    _report(root, "mini", "table8", seeds=("0", "1"))
    capsys.readouterr()
    assert main(["check", "--tables", "table8", "--results", str(root), "--golden", str(golden)]) == 1
    assert "32 of 32 compared numbers are outside tolerance" in capsys.readouterr().out


def test_missing_tables_are_a_clear_error(tmp_path, capsys):
    assert main(["check", "--tables", "table5", "--results", str(tmp_path)]) == 2
    assert "no aggregated results" in capsys.readouterr().err


def test_a_claim_that_stops_holding_fails_the_check(tmp_path, capsys):
    from zegclip.report.golden import Claim, check_claims
    from zegclip.report.aggregate import collect, summarize

    root = tmp_path / "results"
    _write_results(root, "table8", seeds=[0])  # every row the same numbers
    summary = summarize(collect("table8", root, "mini", [0]))
    claim = Claim("deep prompts beat shallow ones", "table8", "voc", "l1_12", ("l1", "l1_3"))
    failures = check_claims(summary, [claim])
    assert len(failures) == 2 * 2 and set(failures["than"]) == {"l1", "l1_3"}  # ties do not hold
    moved = summary.copy()
    moved.loc[moved["row"] == "l1_12", "mean"] += 1.0
    assert check_claims(moved, [claim]).empty
    assert check_claims(moved, [Claim("other table", "table5", "voc", "dpt_nel_rd", ("ft_nel_rd",))]).empty


def test_committed_mini_table5_passes_and_a_perturbed_result_fails(tmp_path, capsys):
    import pandas as pd

    from zegclip.report.check import GOLDEN, read_frame
    from zegclip.report.golden import read_golden

    committed = Path(__file__).resolve().parents[1] / "results" / "mini" / "reference" / "table5.csv"
    target = tmp_path / "mini" / "tables" / "table5.csv"
    target.parent.mkdir(parents=True)
    frame = read_frame(committed)
    frame.to_csv(target, index=False)
    golden = read_golden(GOLDEN)
    (target.parent / "table5.fingerprints.json").write_text(json.dumps({"rows": golden.fingerprints}))
    assert main(["check", "--tables", "table5", "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "every row's fingerprint matches" in out and f"the {len(golden.claims)} comparisons" in out
    assert len(golden.claims) > 0

    numbers = golden.numbers
    hit = (frame["row"] == "dpt_nel_rd") & (frame["dataset"] == "voc") & (frame["metric"] == "mIoU_S")
    tol = numbers.loc[(numbers["row"] == "dpt_nel_rd") & (numbers["dataset"] == "voc")
                      & (numbers["metric"] == "mIoU_S"), "tolerance"].item()
    frame.loc[hit, "mean"] -= tol + 0.5  # ZegCLIP's seen mIoU drops beyond tolerance
    pd.DataFrame(frame).to_csv(target, index=False)
    assert main(["check", "--tables", "table5", "--results", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "1 of 96 compared numbers are outside tolerance" in out
    assert "| table5  | dpt_nel_rd | voc" in out and "mIoU_S" in out


def test_a_changed_fingerprint_fails_naming_the_row_and_the_fact(tmp_path, capsys):
    root, golden, _ = _golden_setup(tmp_path)
    prints = root / "mini" / "tables" / "table8.fingerprints.json"
    records = json.loads(prints.read_text())
    hit = next(r for r in records["rows"] if r["row"] == "l4_12")
    hit["facts"]["query_width"] = 128  # the relationship descriptor dropped: a narrower query
    del hit["facts"]["templates"]
    prints.write_text(json.dumps(records))
    capsys.readouterr()
    assert main(["check", "--tables", "table8", "--results", str(root), "--golden", str(golden)]) == 1
    out = capsys.readouterr().out
    assert "all compared numbers are within tolerance" in out  # the numbers alone would pass
    lines = [line for line in out.splitlines() if "fingerprint" in line and "l4_12" in line]
    assert lines == ["table8 l4_12 (voc): fingerprint query_width is 128, golden 256",
                     "table8 l4_12 (voc): fingerprint templates is 'absent', golden 15"]


def test_a_run_without_a_fingerprint_fails(tmp_path, capsys):
    root, golden, _ = _golden_setup(tmp_path)
    prints = root / "mini" / "tables" / "table8.fingerprints.json"
    records = json.loads(prints.read_text())
    records["rows"][0]["facts"] = None  # a results.json written before fingerprints existed
    prints.write_text(json.dumps(records))
    capsys.readouterr()
    assert main(["check", "--tables", "table8", "--results", str(root), "--golden", str(golden)]) == 1
    assert f"table8 {records['rows'][0]['row']} (voc): no fingerprint in its results" in capsys.readouterr().out


def test_a_version_mismatch_is_one_warning_line(tmp_path, capsys):
    root, golden, _ = _golden_setup(tmp_path)
    data = json.loads(golden.read_text())
    data["made_with"]["versions"] = {"torch": "0.0.1", "numpy": "0.0.2"}
    golden.write_text(json.dumps(data))
    capsys.readouterr()
    assert main(["check", "--tables", "table8", "--results", str(root), "--golden", str(golden)]) == 0
    warnings = [line for line in capsys.readouterr().out.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "torch 0.0.1, numpy 0.0.2" in warnings[0] and "requirements.lock" in warnings[0]


def test_the_golden_file_records_what_it_was_made_with(tmp_path):
    _, golden, _ = _golden_setup(tmp_path)
    data = json.loads(golden.read_text())
    from zegclip.engine.provenance import package_versions

    assert data["made_with"]["versions"] == package_versions() and data["made_with"]["machine"] == "test machine"
    assert data["made_with"]["means_seed_count"] == [2] and data["made_with"]["fingerprint_seed"] == 0
    assert data["model"]["numbers"] == 32 and all(g["df"] == 8 for g in data["model"]["groups"])
    assert {f["row"] for f in data["fingerprints"]} == {"l1", "l1_3", "l1_6", "l1_9", "l1_12", "l4_12", "l7_12", "l10_12"}


def _golden_setup(tmp_path):
    """Mini results of Table 8 (2 seeds), rendered, and golden numbers written from them."""
    root, golden = tmp_path / "results", tmp_path / "golden.json"
    _write_results(root, "table8", seeds=[0, 1])
    _report(root, "mini", "table8", seeds=("0", "1"))
    assert main(["check", "--tables", "table8", "--results", str(root), "--golden", str(golden),
                 "--write-golden"]) == 0
    return root, golden, root / "mini" / "tables" / "table8.csv"


def _edit_csv(path, edit):
    import pandas as pd

    if path.suffix == ".json":  # the golden file: edit its numbers as a frame of strings
        data = json.loads(path.read_text())
        frame = pd.DataFrame(data["numbers"]).astype(str)
        data["numbers"] = edit(frame).to_dict("records")
        path.write_text(json.dumps(data))
        return
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    edit(frame).to_csv(path, index=False)


def _row(frame, row, metric):
    return (frame["row"] == row) & (frame["metric"] == metric)


@pytest.mark.parametrize("where,edit,problem", [
    ("golden", lambda f: f[~_row(f, "l4_12", "hIoU")], "not in the reference numbers"),
    ("golden", lambda f: f.assign(mean=f["mean"].where(~_row(f, "l4_12", "hIoU"), "nan")), "the reference is not a number"),
    ("golden", lambda f: f.assign(mean=f["mean"].where(~_row(f, "l4_12", "hIoU"), "")), "the reference is not a number"),
    ("golden", lambda f: f.assign(mean=f["mean"].where(~_row(f, "l4_12", "hIoU"), "sixty")), "the reference is not a number"),
    ("golden", lambda f: f.assign(tolerance=f["tolerance"].where(~_row(f, "l4_12", "hIoU"), "nan")),
     "the tolerance is not a number"),
    ("table", lambda f: f[~_row(f, "l4_12", "hIoU")], "missing from the results"),
    ("table", lambda f: f.assign(mean=f["mean"].where(~_row(f, "l4_12", "hIoU"), "nan")), "our value is not a number"),
    ("table", lambda f: f[~(f["row"] == "l4_12")], "missing from the results"),
    ("table", lambda f: __import__("pandas").concat([f, f[_row(f, "l4_12", "hIoU")]]), "appears more than once"),
])
def test_check_fails_naming_the_row_when_a_number_cannot_be_compared(tmp_path, capsys, where, edit, problem):
    root, golden, table = _golden_setup(tmp_path)
    _edit_csv(golden if where == "golden" else table, edit)
    capsys.readouterr()
    assert main(["check", "--tables", "table8", "--results", str(root), "--golden", str(golden)]) == 1
    out = capsys.readouterr().out
    failures = [line for line in out.splitlines() if line.startswith("| table8")]
    assert failures and all("l4_12" in line and problem in line for line in failures)
    assert "within tolerance" not in out
    expected = 32 - (1 if where == "golden" and "not in the reference" in problem else 0)
    assert out.startswith(f"compared {32 - len(failures)} of {expected} expected numbers")


def test_a_number_beyond_its_golden_tolerance_fails(tmp_path, capsys):
    root, golden, table = _golden_setup(tmp_path)  # l1 mIoU_U: 17.0 over seeds 10 apart
    numbers = json.loads(golden.read_text())["numbers"]
    tol = next(n["tolerance"] for n in numbers if n["row"] == "l1" and n["metric"] == "mIoU_U")
    _edit_csv(table, lambda f: f.assign(mean=f["mean"].where(~_row(f, "l1", "mIoU_U"), str(17.0 + tol - 0.1))))
    capsys.readouterr()
    assert main(["check", "--tables", "table8", "--results", str(root), "--golden", str(golden)]) == 0
    _edit_csv(table, lambda f: f.assign(mean=f["mean"].where(~_row(f, "l1", "mIoU_U"), str(17.0 + tol + 0.1))))
    capsys.readouterr()
    assert main(["check", "--tables", "table8", "--results", str(root), "--golden", str(golden)]) == 1
    assert "1 of 32 compared numbers are outside tolerance" in capsys.readouterr().out


@pytest.mark.parametrize("item,message", [
    ("mIoU_unseen=3", "unknown metric 'mIoU_unseen'; the checked tables have hIoU, mIoU_S, mIoU_U, pAcc"),
    ("hIoU=lots", "expected METRIC=POINTS"),
    ("hIoU=-1", "expected METRIC=POINTS"),
])
def test_a_bad_tolerance_is_an_error_naming_it(tmp_path, capsys, item, message):
    root, golden, _ = _golden_setup(tmp_path)
    capsys.readouterr()
    assert main(["check", "--tables", "table8", "--results", str(root), "--golden", str(golden),
                 "--tolerance", item]) == 2
    err = capsys.readouterr().err
    assert message in err and item in err and len(err.strip().splitlines()) == 1


def test_golden_numbers_are_not_written_from_incomplete_results(tmp_path, capsys):
    root, golden, table = _golden_setup(tmp_path)
    before = golden.read_text()
    _edit_csv(table, lambda f: f.assign(mean=f["mean"].where(~_row(f, "l1", "pAcc"), "nan")))
    assert main(["check", "--tables", "table8", "--results", str(root), "--golden", str(golden),
                 "--write-golden"]) == 2
    assert "row l1 (voc) has no number for pAcc" in capsys.readouterr().err
    assert golden.read_text() == before


def test_a_claim_on_a_missing_row_fails():
    import pandas as pd

    from zegclip.report.golden import Claim, check_claims

    summary = pd.DataFrame({"table": ["table5"] * 2, "dataset": ["voc"] * 2, "row": ["fix_rd", "fix_rd"],
                            "metric": ["mIoU_U", "hIoU"], "mean": [40.0, 40.0]})
    failures = check_claims(summary, [Claim("RD improves fix", "table5", "voc", "fix_rd", ("fix",))])
    assert len(failures) == 2 and set(failures["than"]) == {"fix"}


def test_a_check_with_nothing_to_compare_fails(tmp_path, capsys):
    root, golden, _ = _golden_setup(tmp_path)
    _edit_csv(golden, lambda f: f[f["table"] != "table8"])
    assert main(["check", "--tables", "table8", "--results", str(root), "--golden", str(golden)]) == 2
    assert "hold no number for tables table8; nothing to check" in capsys.readouterr().err
