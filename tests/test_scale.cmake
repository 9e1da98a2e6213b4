# Graphs of 200,000 nodes planned end to end (tests/test_scale.c). The
# timeout is what these tests check: code quadratic in the number of nodes
# (a scan of every tensor per in-place decision, of every earlier weight per
# weight) takes minutes on them, the O(n log n) planner about a second
# (several under AddressSanitizer, which is about 3x slower). The margin is
# wide on purpose, so that a slow or loaded machine does not fail them while
# a quadratic stage still does.
mi_add_criterion_test(test_scale TIMEOUT 60)
