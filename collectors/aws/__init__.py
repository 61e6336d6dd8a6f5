"""The AWS collector (issue #5): Cost Explorer spend, EC2 inventory, CloudWatch CPU and
S3 storage groups, through boto3. Only `adapter` imports the SDK."""
