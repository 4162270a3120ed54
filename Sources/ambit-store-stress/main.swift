// Test-only helper for the store's crash-consistency test (see Tests/AmbitControlTests).
print("ambit-store-stress: not implemented yet")
