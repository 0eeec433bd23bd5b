package awsv4

import "testing"

func TestInferServiceRegion(t *testing.T) {
	for host, want := range map[string][2]string{
		"abcdefg.lambda-url.us-east-1.on.aws":                    {"lambda", "us-east-1"},
		"ABCDEFG.LAMBDA-URL.EU-WEST-1.ON.AWS:443":                {"lambda", "eu-west-1"},
		"a1b2c3.execute-api.ap-southeast-2.amazonaws.com":        {"execute-api", "ap-southeast-2"},
		"s3.amazonaws.com":                                       {"s3", "us-east-1"},
		"my-bucket.s3.amazonaws.com":                             {"s3", "us-east-1"},
		"s3.eu-central-1.amazonaws.com":                          {"s3", "eu-central-1"},
		"my-bucket.s3.us-west-2.amazonaws.com":                   {"s3", "us-west-2"},
		"s3.backup.s3.us-west-2.amazonaws.com":                   {"s3", "us-west-2"},
		"my-bucket.s3-us-west-2.amazonaws.com":                   {"s3", "us-west-2"},
		"s3-eu-west-1.amazonaws.com":                             {"s3", "eu-west-1"},
		"s3.dualstack.ap-northeast-1.amazonaws.com":              {"s3", "ap-northeast-1"},
		"bucket.s3.dualstack.ap-northeast-1.amazonaws.com":       {"s3", "ap-northeast-1"},
		"s3-external-1.amazonaws.com":                            {"s3", "us-east-1"},
		"ap-123456789012.s3-accesspoint.us-east-1.amazonaws.com": {"s3", "us-east-1"},
		"s3.cn-north-1.amazonaws.com.cn":                         {"s3", "cn-north-1"},
		"sts.amazonaws.com":                                      {"sts", "us-east-1"},
		"sts.us-gov-west-1.amazonaws.com":                        {"sts", "us-gov-west-1"},
		"dynamodb.eu-west-3.amazonaws.com":                       {"dynamodb", "eu-west-3"},
		"bedrock-runtime.us-west-2.amazonaws.com":                {"bedrock", "us-west-2"},
		"runtime.sagemaker.eu-west-1.amazonaws.com":              {"sagemaker", "eu-west-1"},
		"search-logs-abc123.eu-west-1.es.amazonaws.com":          {"es", "eu-west-1"},
		"abc123.appsync-api.eu-west-1.amazonaws.com":             {"appsync", "eu-west-1"},
		"abc123.appsync-realtime-api.eu-west-1.amazonaws.com":    {"appsync", "eu-west-1"},
		"appsync.us-east-1.amazonaws.com":                        {"appsync", "us-east-1"},
		"lambda.us-west-2.amazonaws.com":                         {"lambda", "us-west-2"},
		"lambda.cn-north-1.amazonaws.com.cn":                     {"lambda", "cn-north-1"},
		"coll1.us-east-1.aoss.amazonaws.com":                     {"aoss", "us-east-1"},
		"a.b.vpc-lattice-svcs.us-west-2.on.aws":                  {"vpc-lattice-svcs", "us-west-2"},
		"x.lambda-url.cn-north-1.on.amazonwebservices.com.cn":    {"lambda", "cn-north-1"},
		"a1.execute-api.cn-northwest-1.amazonaws.com.cn":         {"execute-api", "cn-northwest-1"},
		"vpc-lattice-svcs.us-west-2.on.aws":                      {"", ""},
		"api.example.com":                                        {"", ""},
		"127.0.0.1:8080":                                         {"", ""},
		"foo.on.aws":                                             {"", ""},
		"amazonaws.com":                                          {"", ""},
	} {
		s, r := InferServiceRegion(host)
		if s != want[0] || r != want[1] {
			t.Errorf("%s: got %q %q, want %q %q", host, s, r, want[0], want[1])
		}
	}
}
