"""What the tests share: builders of domain data, the concurrency harness, command runners,
log writers, API clients and browser steps. Test modules import from here, never from each other."""
