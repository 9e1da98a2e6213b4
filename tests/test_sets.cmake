# Batch ranges and model sets on the reduced transformers of the model zoo
# (the models.generate fixture, models.cmake); one case runs two threads.
mi_add_criterion_test(test_sets FIXTURES models LIBS Threads::Threads TIMEOUT 300 LABELS models)
