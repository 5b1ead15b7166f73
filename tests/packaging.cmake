# Packaging tests: added with the consumer example.
