"""JSON Schemas of the JSON that regkit prints (-o json): one NAME.schema.json per verb."""
