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

variable "callback_budget" {
  description = "PostToConnection calls per second all fan-out workers together may make: a share of the account's API Gateway budget (10,000 requests/s per Region by default, shared by every API and @connections call)."
  type        = number
  default     = 5000
}

variable "worker_concurrency" {
  description = "Maximum concurrency of the fan-out queue's event source mapping (2 to 1000); each worker paces itself at callback_budget / worker_concurrency calls per second."
  type        = number
  default     = 10
}

variable "fanout_inline_max" {
  description = "The most members a publish delivers inline; a larger channel goes through the fan-out queue, one job per bucket of members (0: every publish)."
  type        = number
  default     = 1000
}
