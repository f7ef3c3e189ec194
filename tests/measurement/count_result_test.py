"""The result of one counting pass."""

from keras_linprune.measurement.count_result import CountResult


def test_results_share_no_moments_list():
    a = CountResult(1, [], [], [], {}, False)
    b = CountResult(1, [], [], [], {}, False)
    a.moments.append("sums")
    assert b.moments == [] and a.moments == ["sums"]
