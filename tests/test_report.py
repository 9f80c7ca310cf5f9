"""Rendering a paper table from a results tree (inputs written here, as evaluations would)."""
import json

from zegclip.cli import main
from zegclip.paper.runs import table_rows
from zegclip.report import result_path


def _write_results(root, table, seeds, offset=0.0):
    for row in table_rows(table):
        for seed in seeds:
            path = result_path(root, "mini", row.run.key("mini"), seed, row.target)
            path.parent.mkdir(parents=True, exist_ok=True)
            base = 10.0 * (seed + 1) + offset
            path.write_text(json.dumps({"metrics": {"pAcc": base, "mIoU_S": base + 1, "mIoU_U": base + 2,
                                                    "hIoU": base + 3, "mIoU": base, "mAcc": base}}))


def test_table5_renders_ours_beside_the_paper(tmp_path, capsys):
    _write_results(tmp_path / "results", "table5", seeds=[0, 1])
    out = tmp_path / "reports" / "table5.md"
    assert main(["report", "--table", "table5", "--results", str(tmp_path / "results"), "--seeds", "0", "1",
                 "--out", str(out)]) == 0
    md = out.read_text()
    assert md.startswith("Table 5:") and "Scale: mini; seeds: 2" in md
    assert "Baseline-DPT + NEL + RD (ZegCLIP)" in md
    assert "15.0 ± 7.1" in md  # pAcc over seeds 10 and 20
    assert "94.6" in md and "-79.6" in md  # the paper's VOC pAcc and Δ = 15.0 - 94.6
    assert md.count("\n| ") == 24 + 1  # 12 rows x 2 datasets, plus the header line
    tex = out.with_suffix(".tex").read_text()
    assert r"\begin{tabular}" in tex and r"$\pm$" in tex
    csv = (tmp_path / "results" / "mini" / "tables" / "table5.csv").read_text()
    assert csv.splitlines()[0].startswith("table,row,label,dataset,target,metric,mean,std,seeds,paper,delta")


def test_table4_flags_the_uncertain_label_and_table7_uses_its_metrics(tmp_path):
    _write_results(tmp_path / "results", "table4", seeds=[0])
    _write_results(tmp_path / "results", "table7", seeds=[0])
    main(["report", "--table", "table4", "--results", str(tmp_path / "results"), "--seeds", "0",
          "--out", str(tmp_path / "t4.md")])
    assert "label of the last 1536-d row is uncertain" in (tmp_path / "t4.md").read_text()
    main(["report", "--table", "table7", "--results", str(tmp_path / "results"), "--seeds", "0",
          "--out", str(tmp_path / "t7.md")])
    t7 = (tmp_path / "t7.md").read_text()
    assert "coco → context" in t7 and "mAcc" in t7 and "hIoU" not in t7


def test_a_missing_result_is_a_clear_error(tmp_path, capsys):
    _write_results(tmp_path / "results", "table8", seeds=[0])
    assert main(["report", "--table", "table8", "--results", str(tmp_path / "results"), "--seeds", "0", "1",
                 "--out", str(tmp_path / "t8.md")]) == 2
    assert "no result" in capsys.readouterr().err and not (tmp_path / "t8.md").exists()
