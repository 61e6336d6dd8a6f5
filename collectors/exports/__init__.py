"""Native billing exports (AWS CUR / CUR 2.0, Azure cost details, GCP billing export) to
FOCUS cost records: pure per-format mappers plus the file ingest (docs/native-exports.md)."""
