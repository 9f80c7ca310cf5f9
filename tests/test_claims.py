"""The paper's Table 5 claims tested per seed (zegclip claims), on results written here."""
import json

from zegclip.report.claims import TABLE5_CLAIMS, claims_frames
from zegclip.cli import main
from zegclip.paper.runs import table_rows
from zegclip.paper.layout import result_path
from zegclip.report.aggregate import DEFAULT_METRICS


def _write_paper_numbers(root, seeds, change=None):
    """Each seed's results are the paper's numbers; ``change(seed, row, dataset, metrics)`` edits them."""
    for row in table_rows("table5", "mini"):
        for seed in seeds:
            metrics = dict(zip(DEFAULT_METRICS, row.reported))
            if change:
                change(seed, row.key, row.dataset, metrics)
            path = result_path(root, "mini", row.run.key("mini"), seed)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"metrics": metrics}))


def _verdict(frame, key, dataset):
    return frame[(frame["key"] == key) & (frame["dataset"] == dataset)].iloc[0]


def test_on_the_paper_numbers_ours_agree_with_the_paper_column(tmp_path):
    _write_paper_numbers(tmp_path, [0, 1])
    verdicts, comparisons = claims_frames(tmp_path, "mini", [0, 1])
    assert len(verdicts) == 2 * len(TABLE5_CLAIMS)
    assert (comparisons["paper_holds"] == comparisons["mean_holds"]).all()
    assert _verdict(verdicts, "dpt", "voc")["verdict"] == "holds"
    assert _verdict(verdicts, "zegclip_best", "coco")["verdict"] == "holds"
    # The paper's own COCO-Stuff numbers: Baseline-DPT ties Baseline-FT on unseen mIoU (17.5), and
    # FT beats Fix on unseen classes without RD (17.5 > 15.4, 25.4 > 20.8).
    assert _verdict(verdicts, "dpt", "coco")[["paper", "verdict"]].tolist() == ["7/8", "does not hold"]
    assert _verdict(verdicts, "ft_hurts", "coco")["paper"] == "2/4"


def test_a_claim_holds_only_when_every_comparison_holds_in_every_seed(tmp_path):
    def ft_wins_in_seed_1(seed, row, dataset, metrics):
        if seed == 1 and dataset == "voc" and row == "ft_rd":
            metrics["mIoU_U"] = 56.0  # above DPT + RD's 55.2 in this seed only
    _write_paper_numbers(tmp_path, [0, 1, 2], ft_wins_in_seed_1)
    verdicts, comparisons = claims_frames(tmp_path, "mini", [0, 1, 2])
    dpt = _verdict(verdicts, "dpt", "voc")
    assert dpt["seeds where all hold"] == "2/3" and dpt["verdict"] == "holds on the mean"
    line = comparisons[(comparisons["better"] == "dpt_rd") & (comparisons["worse"] == "ft_rd")].iloc[0]
    assert line["held_in"] == [0, 2] and line["mean_holds"]  # mean 55.2 vs (20.7 * 2 + 56) / 3


def test_the_command_writes_a_report_and_a_missing_result_writes_nothing(tmp_path, capsys):
    _write_paper_numbers(tmp_path / "results", [0])
    out = tmp_path / "claims.md"
    assert main(["claims", "--results", str(tmp_path / "results"), "--seeds", "0", "--label", "world seed 1",
                 "--out", str(out)]) == 0
    md = out.read_text()
    assert md.startswith("The paper's Table 5 claims on our runs (mini scale, world seed 1; seeds: 0)")
    nel_voc = [line for line in md.splitlines() if line.startswith("| NEL beats CE") and "| voc " in line]
    assert len(nel_voc) == 1 and "| 6/6 " in nel_voc[0] and "| holds " in nel_voc[0]
    assert "dpt_rd > ft_rd" in md
    missing = tmp_path / "missing.md"
    assert main(["claims", "--results", str(tmp_path / "results"), "--seeds", "0", "1", "--out", str(missing)]) == 2
    assert "no result" in capsys.readouterr().err and not missing.exists()
