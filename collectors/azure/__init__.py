"""The Azure collector (issue #5): Cost Management spend, VM and scale-set inventory,
Azure Monitor CPU and memory, storage accounts and Retail Prices. Only `adapter`
imports the SDKs."""
