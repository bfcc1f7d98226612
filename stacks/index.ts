// Pulumi entry point (Pulumi.yaml: main: stacks/). Configuration is read and checked
// once here; everything below works on typed values.
import { loadConfig } from "./config";
import { createStack } from "./stack";

const outputs = createStack(loadConfig());

export const serviceUrl = outputs.serviceUrl;
export const nlbDnsName = outputs.nlbDnsName;
export const dicomBucketName = outputs.dicomBucketName;
export const dicomPrefix = outputs.dicomPrefix;
export const accessLogsBucketName = outputs.accessLogsBucketName;
export const certificatesBucketName = outputs.certificatesBucketName;
export const certificateMode = outputs.certificateMode;
export const certificateSource = outputs.certificateSource;
export const authMode = outputs.authMode;
export const serverCertificate = outputs.serverCertificate;
export const logGroups = outputs.logGroups;
export const clusterName = outputs.clusterName;
export const serviceName = outputs.serviceName;
export const auditTrailBucketName = outputs.auditTrailBucketName;
export const alarmTopicArn = outputs.alarmTopicArn;
export const eventQueueUrl = outputs.eventQueueUrl;
export const eventQueueArn = outputs.eventQueueArn;
export const region = outputs.region;
export const kmsKeyArn = outputs.kmsKeyArn;
export const taskRoleArn = outputs.taskRoleArn;
export const images = outputs.images;
export const serverCertificateNotAfter = outputs.serverCertificateNotAfter;
export const nlbSecurityGroupId = outputs.nlbSecurityGroupId;
