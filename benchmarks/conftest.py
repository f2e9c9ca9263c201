def pytest_addoption(parser):
    parser.addoption("--run-huge", action="store_true", default=False,
                     help="run benchmarks that need more than 10 GB of memory")
