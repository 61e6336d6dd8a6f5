"""GCP collector (issue #5): catalog prices, BigQuery billing export spend, Compute
Engine inventory, Cloud Monitoring CPU and Cloud Storage buckets."""
