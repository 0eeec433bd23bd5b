#!/usr/bin/env python3
"""SigV4 GET with botocore + requests: the Python baseline of bench/sigv4.sh.

usage: sigv4_botocore.py URL SERVICE REGION   (keys from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)
"""
import os
import sys

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

url, service, region = sys.argv[1:4]
req = AWSRequest(method="GET", url=url)
SigV4Auth(Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]), service, region).add_auth(req)
resp = requests.get(url, headers=dict(req.headers.items()), timeout=30)
if resp.status_code != 200:
    sys.exit(f"HTTP {resp.status_code}: {resp.text[:300]}")
sys.stdout.write(resp.text)
