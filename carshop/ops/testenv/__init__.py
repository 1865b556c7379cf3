"""Test environments: an anonymized copy of the live database (`create_test_env`) and checks run
against it (`test_in_isolation`)."""
