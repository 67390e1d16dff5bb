variable "name" {
  description = "Prefix of every resource name (function, APIs, key, plan, log group)."
  type        = string
  default     = "monologue"
}

variable "region" {
  description = "AWS region; null takes it from AWS_REGION or the profile."
  type        = string
  default     = null
}

variable "stage" {
  description = "WebSocket API stage name; it is the path of the wss:// URL."
  type        = string
  default     = "latest"
}

variable "api_key_value" {
  description = "API key clients send as x-api-key (alphanumeric, at least 20 characters); null lets API Gateway generate one."
  type        = string
  default     = null
  sensitive   = true
}

variable "log_retention_days" {
  description = "Days to keep the relay function's logs."
  type        = number
  default     = 14
}

variable "max_message_size" {
  description = "Largest frame, in bytes, the relay delivers (API Gateway's own limit is 128 KiB)."
  type        = number
  default     = 131072
}

variable "lambda_zip" {
  description = "The bootstrap.zip built by `make lambda`; null means build/bootstrap.zip at the repository root."
  type        = string
  default     = null
}
