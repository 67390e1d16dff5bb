// Package deploy holds monologue's AWS deployment: an AWS SAM template (sam/), the same
// stack in Terraform (terraform/), and the Makefile fragment aws.mk that builds the Lambda
// bootstrap and deploys, describes, configures and removes a stack.
//
// The package has no Go API. Its tests are static checks of those files, run offline by
// `go test ./deploy`: they parse the SAM template with goformation and as raw YAML, the
// Terraform with hcl/v2 and aws.mk as text, and check that every route the relay serves is
// wired to the function, that the function's IAM role is scoped to this stack's API and
// table, that the table has the keys, index and TTL the DynamoDB store expects, and that
// the outputs the Makefile reads exist. See README.md for how to deploy.
package deploy
