locals {
  # Every WebSocket route the relay serves. Keep in step with the relay package, with
  # deploy/sam/template.yaml and with relayRoutes in deploy/deploy_test.go.
  websocket_routes = ["$connect", "$disconnect", "$default", "loopback", "sendmessage", "send", "subscribe", "unsubscribe", "publish", "claim", "release", "presence"]

  lambda_zip          = coalesce(var.lambda_zip, "${path.module}/../../build/bootstrap.zip")
  management_endpoint = "${replace(aws_apigatewayv2_api.websocket.api_endpoint, "wss://", "https://")}/${var.stage}"
}

# --- WebSocket API: one route per relay route, all to one integration. ---

resource "aws_apigatewayv2_api" "websocket" {
  name                         = "${var.name}-ws"
  protocol_type                = "WEBSOCKET"
  route_selection_expression   = "$request.body.action"
  api_key_selection_expression = "$request.header.x-api-key"
}

resource "aws_apigatewayv2_integration" "websocket" {
  api_id           = aws_apigatewayv2_api.websocket.id
  integration_type = "AWS_PROXY"
  integration_uri  = aws_lambda_function.relay.invoke_arn
}

resource "aws_apigatewayv2_route" "websocket" {
  for_each = toset(local.websocket_routes)

  api_id           = aws_apigatewayv2_api.websocket.id
  route_key        = each.key
  api_key_required = each.key == "$connect"
  target           = "integrations/${aws_apigatewayv2_integration.websocket.id}"
}

resource "aws_apigatewayv2_deployment" "websocket" {
  api_id = aws_apigatewayv2_api.websocket.id

  # Redeploy whenever a route or its target changes.
  triggers = {
    routes = sha1(join(",", [for r in aws_apigatewayv2_route.websocket : "${r.route_key}=${r.target}"]))
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_apigatewayv2_stage" "websocket" {
  api_id        = aws_apigatewayv2_api.websocket.id
  name          = var.stage
  deployment_id = aws_apigatewayv2_deployment.websocket.id
}

resource "aws_lambda_permission" "websocket" {
  statement_id  = "AllowWebSocketApi"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.relay.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.websocket.execution_arn}/${var.stage}/*"
}

# --- API key: WebSocket APIs take keys through a REST-style usage plan. ---

resource "aws_api_gateway_api_key" "relay" {
  name  = "${var.name}-key"
  value = var.api_key_value
}

resource "aws_api_gateway_usage_plan" "relay" {
  name = "${var.name}-plan"

  api_stages {
    api_id = aws_apigatewayv2_api.websocket.id
    stage  = aws_apigatewayv2_stage.websocket.name
  }
}

resource "aws_api_gateway_usage_plan_key" "relay" {
  key_id        = aws_api_gateway_api_key.relay.id
  key_type      = "API_KEY"
  usage_plan_id = aws_api_gateway_usage_plan.relay.id
}

# --- HTTP API for server-side publish; the function checks x-api-key itself. ---

resource "aws_apigatewayv2_api" "http" {
  name          = "${var.name}-http"
  protocol_type = "HTTP"
}

resource "aws_apigatewayv2_integration" "http" {
  api_id                 = aws_apigatewayv2_api.http.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.relay.invoke_arn
  payload_format_version = "2.0"
}

resource "aws_apigatewayv2_route" "http_publish" {
  api_id    = aws_apigatewayv2_api.http.id
  route_key = "POST /channels/{channel}"
  target    = "integrations/${aws_apigatewayv2_integration.http.id}"
}

resource "aws_apigatewayv2_stage" "http" {
  api_id      = aws_apigatewayv2_api.http.id
  name        = "$default"
  auto_deploy = true
}

resource "aws_lambda_permission" "http" {
  statement_id  = "AllowHttpApi"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.relay.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.http.execution_arn}/*/POST/channels/*"
}

# --- Channel subscriptions: one item per (channel, connection). ---

resource "aws_dynamodb_table" "channels" {
  name         = "${var.name}-channels"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "channel"
  range_key    = "connectionId"

  attribute {
    name = "channel"
    type = "S"
  }

  attribute {
    name = "connectionId"
    type = "S"
  }

  global_secondary_index {
    name            = "byConnection"
    hash_key        = "connectionId"
    range_key       = "channel"
    projection_type = "KEYS_ONLY"
  }

  ttl {
    attribute_name = "ttl"
    enabled        = true
  }
}

# --- The function, its logs and its least-privilege role. ---

# --- Fan-out: large publishes become jobs on a queue that the same function works. ---

resource "aws_sqs_queue" "fanout_dead_letter" {
  name                      = "${var.name}-fanout-dlq"
  message_retention_seconds = 1209600
}

resource "aws_sqs_queue" "fanout" {
  name = "${var.name}-fanout"
  # Six times the function's timeout, as Lambda advises for an SQS source.
  visibility_timeout_seconds = 360
  message_retention_seconds  = 3600
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.fanout_dead_letter.arn
    maxReceiveCount     = 5
  })
}

resource "aws_lambda_event_source_mapping" "fanout" {
  event_source_arn        = aws_sqs_queue.fanout.arn
  function_name           = aws_lambda_function.relay.arn
  batch_size              = 5
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.worker_concurrency
  }
}

resource "aws_cloudwatch_log_group" "relay" {
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_days
}

data "aws_iam_policy_document" "assume_lambda" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "relay" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.relay.arn}:*"]
  }

  statement {
    sid     = "ManageOwnConnections"
    actions = ["execute-api:ManageConnections"]
    resources = [
      "${aws_apigatewayv2_api.websocket.execution_arn}/${var.stage}/POST/@connections/*",
      "${aws_apigatewayv2_api.websocket.execution_arn}/${var.stage}/GET/@connections/*",
      "${aws_apigatewayv2_api.websocket.execution_arn}/${var.stage}/DELETE/@connections/*",
    ]
  }

  statement {
    sid = "ChannelsTable"
    actions = [
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:DeleteItem",
      "dynamodb:Query",
      "dynamodb:BatchWriteItem",
    ]
    resources = [
      aws_dynamodb_table.channels.arn,
      "${aws_dynamodb_table.channels.arn}/index/byConnection",
    ]
  }

  statement {
    sid = "FanoutQueue"
    actions = [
      "sqs:SendMessage",
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
    ]
    resources = [aws_sqs_queue.fanout.arn]
  }
}

resource "aws_iam_role" "relay" {
  name               = "${var.name}-relay"
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json
}

resource "aws_iam_role_policy" "relay" {
  name   = "relay"
  role   = aws_iam_role.relay.id
  policy = data.aws_iam_policy_document.relay.json
}

resource "aws_lambda_function" "relay" {
  function_name    = var.name
  description      = "monologue relay (all WebSocket routes and HTTP publish)"
  role             = aws_iam_role.relay.arn
  filename         = local.lambda_zip
  source_code_hash = filebase64sha256(local.lambda_zip)
  handler          = "bootstrap"
  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  memory_size      = 256
  # WebSocket routes are cut at 29 s by API Gateway; a fan-out batch (5 jobs of
  # about 1,000 members at 500 calls/s) takes about 10 s.
  timeout = 60

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.relay.name
  }

  environment {
    variables = {
      MONOLOGUE_TABLE               = aws_dynamodb_table.channels.name
      MONOLOGUE_PUBLISH_KEY         = aws_api_gateway_api_key.relay.value
      MONOLOGUE_MANAGEMENT_ENDPOINT = local.management_endpoint
      MONOLOGUE_MAX_MESSAGE_SIZE    = tostring(var.max_message_size)
      MONOLOGUE_QUEUE_URL           = aws_sqs_queue.fanout.url
      MONOLOGUE_CALLBACK_BUDGET     = tostring(var.callback_budget)
      MONOLOGUE_WORKER_CONCURRENCY  = tostring(var.worker_concurrency)
      MONOLOGUE_FANOUT_INLINE_MAX   = tostring(var.fanout_inline_max)
    }
  }

  depends_on = [aws_iam_role_policy.relay]
}
