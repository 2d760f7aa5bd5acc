"""Markdown rendering of an evaluation report."""
from __future__ import annotations


def _pct(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def markdown(rep: dict) -> str:
    lines = [f"# facesearch evaluation: {rep['data']}", "",
             f"encoder `{rep['encoder']}` (checksum {rep['model_checksum'][:12]}), "
             f"{rep['photos']} photos, {rep['identities']} identities", ""]
    prot = rep.get("protocols", {})
    if prot:
        kinds = sorted({k for p in prot.values() for k in p["by_distortion"]})
        lines += ["## Identification", "",
                  "| protocol | queries | top-1 | top-5 | " + " | ".join(kinds) + " |",
                  "|---|---|---|---|" + "---|" * len(kinds)]
        for name, p in prot.items():
            lines.append(f"| {name} | {p['queries']} | {_pct(p['top1'])} | {_pct(p['top5'])} | "
                         + " | ".join(_pct(p["by_distortion"].get(k)) for k in kinds) + " |")
        lines.append("")
    lines += ["## Verification", "", f"- ROC AUC: {rep['roc_auc']:.4f}"]
    lines += [f"- TAR at FAR {far}: {tar:.4f}" for far, tar in rep["tar_at_far"].items()]
    if rep.get("at_threshold"):
        a = rep["at_threshold"]
        lines += [f"- at the stored threshold {rep['threshold']:.4f}: accuracy {a['accuracy']:.4f}, "
                  f"precision {a['precision']:.4f}, recall {a['recall']:.4f}, F1 {a['f1']:.4f}, "
                  f"FAR {a['far']:.5f}"]
        o = rep["open_set"]
        lines += ["", "## Open set", "",
                  f"Enrolled {o['enrolled_identities']} identities, left out {o['unenrolled_identities']}; "
                  f"distorted photos of all queried at the stored threshold:", "",
                  f"- false-accept rate of people not enrolled: {o['false_accept_rate']:.4f}",
                  f"- correct-accept rate of enrolled people: {o['correct_accept_rate']:.4f}"]
    else:
        lines += ["- no threshold stored: run `facesearch calibrate` for accept/unknown metrics"]
    return "\n".join(lines) + "\n"
