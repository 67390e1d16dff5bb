// Package lambdaemu lets the gateway run the AWS code path on one machine: it
// is a gateway integration that turns each relay event into the event JSON
// API Gateway would send to a Lambda function, and hands it to an [Invoker]:
// the awslambda handler in process, or the real bootstrap binary as a child
// process serving the Lambda Runtime API.
//
// Entry points: [New] returns an [Integration] with Handle and Broadcast, the
// two methods the gateway calls; [StartLocal] starts the whole AWS path
// (table, function, integration, and with an SQS endpoint the fan-out
// queue); [Poller] stands in for Lambda's SQS event source mapping, which
// nothing else emulates. The subpackage runtimeapi is the Lambda
// Runtime API server a child bootstrap polls; it lives here, not under
// awslambda, because only the emulation needs it.
package lambdaemu
