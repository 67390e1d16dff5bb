terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40, < 7.0"
    }
  }
}

# With var.region unset (null) the provider takes the region from AWS_REGION or the profile.
provider "aws" {
  region = var.region
}
