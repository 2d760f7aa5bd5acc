"""Markdown rendering of an evaluation report."""
from __future__ import annotations


def _num(x, digits: int = 3) -> str:
    """A rate, or "-" where it could not be measured (None)."""
    return "-" if x is None else f"{x:.{digits}f}"


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
            lines.append(f"| {name} | {p['queries']} | {_num(p['top1'])} | {_num(p['top5'])} | "
                         + " | ".join(_num(p["by_distortion"].get(k)) for k in kinds) + " |")
        lines.append("")
    else:
        lines += ["## Identification", "", "- protocols A and B need distorted photos "
                  "(<person>/distortion/*) and clean ones: none here", ""]
    lines += ["## Verification", "", f"- ROC AUC: {_num(rep['roc_auc'], 4)}"]
    lines += [f"- TAR at FAR {far}: {_num(tar, 4)}" for far, tar in rep["tar_at_far"].items()]
    if rep.get("at_threshold"):
        a = rep["at_threshold"]
        lines += [f"- at the stored threshold {rep['threshold']:.4f}: accuracy {_num(a['accuracy'], 4)}, "
                  f"precision {_num(a['precision'], 4)}, recall {_num(a['recall'], 4)}, F1 {_num(a['f1'], 4)}, "
                  f"FAR {_num(a['far'], 5)}"]
        o = rep["open_set"]
        lines += ["", "## Open set", "",
                  f"Enrolled {o['enrolled_identities']} identities, left out {o['unenrolled_identities']}; "
                  f"{o['queries']} photos not enrolled (the distorted ones, where there are any) queried "
                  f"by the stored identification rule (best score >= {rep['threshold']:.4f}"
                  + ("" if rep.get("margin") is None else f" and >= the runner-up's + {rep['margin']:.4f}")
                  + "); faces the quality gate finds unusable are never "
                  f"accepted ({o.get('unusable_queries', 0)} of the queries):", "",
                  f"- false-accept rate of people not enrolled: {_num(o['false_accept_rate'], 4)}",
                  f"- correct-accept rate of enrolled people: {_num(o['correct_accept_rate'], 4)}",
                  f"- wrong-name accept rate of enrolled people: {_num(o.get('wrong_accept_rate'), 4)}"]
    else:
        lines += ["- no threshold stored: run `facesearch calibrate` for accept/unknown metrics"]
    return "\n".join(lines) + "\n"
