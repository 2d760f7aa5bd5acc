"""The IoU tracker: association, new and ended tracks, voted names, the timeline."""
from facesearch.video.tracker import IoUTracker, Sighting, iou, timeline


def seen(box, name="ann", score=0.8, accepted=True):
    return Sighting(box, name, score, accepted, {name: score})


def test_iou():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1
    assert iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0
    assert abs(iou((0, 0, 10, 10), (5, 0, 15, 10)) - 50 / 150) < 1e-9


def test_overlapping_faces_keep_their_track_and_a_far_one_gets_a_new_one():
    tr = IoUTracker()
    [a] = tr.update([seen((0, 0, 50, 50))], 0.0)
    b, c = tr.update([seen((4, 2, 54, 52)), seen((200, 0, 250, 50), "ben")], 0.2)
    assert b is a and c.id != a.id and a.last_time == 0.2


def test_a_track_ends_after_max_misses_and_keeps_its_time_span():
    tr = IoUTracker(max_misses=1)
    [a] = tr.update([seen((0, 0, 50, 50))], 0.0)
    tr.update([], 0.2)
    assert tr.active == [a]
    tr.update([], 0.4)
    assert tr.active == [] and tr.ended == [a] and (a.first_time, a.last_time) == (0.0, 0.0)
    [b] = tr.update([seen((0, 0, 50, 50))], 0.6)
    assert b.id != a.id


def test_name_is_voted_by_accepted_sightings_and_one_bad_frame_does_not_rename():
    tr = IoUTracker()
    box = (0, 0, 50, 50)
    [t] = tr.update([seen(box, "ann", 0.3, False)], 0.0)
    assert (t.identity, t.accepted) == ("ann", False)
    tr.update([seen(box, "ann", 0.7)], 0.2)
    tr.update([seen(box, "ben", 0.35, False)], 0.4)  # a blurred frame: not accepted, no vote
    assert (t.identity, t.accepted, t.score) == ("ann", True, 0.35)


def test_someone_else_accepted_in_the_same_place_starts_a_new_track():
    tr = IoUTracker()
    [a] = tr.update([seen((0, 0, 50, 50), "ann")], 0.0)
    [b] = tr.update([seen((0, 0, 50, 50), "ben")], 0.2)
    assert b is not a and b.identity == "ben" and a.identity == "ann"


def test_without_a_threshold_every_sighting_votes_and_nothing_is_accepted():
    tr = IoUTracker()
    [t] = tr.update([seen((0, 0, 50, 50), "ann", 0.6, None)], 0.0)
    tr.update([seen((0, 0, 50, 50), "ann", 0.5, None)], 0.2)
    assert (t.identity, t.accepted) == ("ann", None)
    assert timeline(tr.tracks())[0]["identity"] == "ann"


def test_timeline_merges_close_tracks_of_one_identity_and_leaves_out_unknowns():
    tr = IoUTracker(max_misses=0)
    tr.update([seen((0, 0, 50, 50), "ann")], 0.0)
    tr.update([seen((0, 0, 50, 50), "ann")], 1.0)
    tr.update([], 1.2)
    tr.update([seen((0, 0, 50, 50), "ann")], 1.8)  # 0.8 s later: the same appearance
    tr.update([], 2.0)
    tr.update([seen((0, 0, 50, 50), "ben")], 5.0)
    tr.update([seen((100, 0, 150, 50), "zed", 0.2, False)], 5.2)
    out = timeline(tr.tracks())
    assert [e["identity"] for e in out] == ["ann", "ben"]
    assert out[0]["spans"] == [[0.0, 1.8]] and out[0]["seen_s"] == 1.8 and len(out[0]["tracks"]) == 2
    assert timeline(tr.tracks(), gap=0.5)[0]["spans"] == [[0.0, 1.0], [1.8, 1.8]]
