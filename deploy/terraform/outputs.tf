output "websocket_uri" {
  description = "Where clients connect (send the key as the x-api-key header)."
  value       = aws_apigatewayv2_stage.websocket.invoke_url
}

output "api_key_id" {
  description = "Read the key with `aws apigateway get-api-key --include-value --api-key <id>`."
  value       = aws_api_gateway_api_key.relay.id
}

output "api_key_value" {
  description = "The API key itself (terraform output -raw api_key_value)."
  value       = aws_api_gateway_api_key.relay.value
  sensitive   = true
}

output "http_publish_uri" {
  description = "POST a body here (with x-api-key) to publish it to every subscriber of {channel}."
  value       = "${aws_apigatewayv2_api.http.api_endpoint}/channels/{channel}"
}

output "management_endpoint" {
  description = "The @connections management API of the WebSocket stage."
  value       = local.management_endpoint
}

output "table_name" {
  description = "DynamoDB table of channel subscriptions."
  value       = aws_dynamodb_table.channels.name
}
