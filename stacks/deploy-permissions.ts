// What the deploying identity must be allowed to do, per resource type of the program:
// the IAM actions the AWS provider calls to create, update and delete each type, and to
// read it (every `pulumi up` and `pulumi refresh`). deploy-permissions.test.ts records the
// plans of every stack file (and the modes they do not use) and fails when a type has no
// row here, or when stacks/deploy-policy.json does not allow an action of a row.
//
// Action names are IAM actions as AWS's Service Authorization Reference spells them, not
// API names: for S3 they differ (DeleteBucketEncryption is s3:PutEncryptionConfiguration,
// DeletePublicAccessBlock is s3:PutBucketPublicAccessBlock, HeadObject is s3:GetObject).
// Which calls a type makes follows the Terraform AWS provider the Pulumi provider wraps.

export interface TypeActions {
  create: string[];
  update: string[];
  delete: string[];
  /** Reading the resource back: after create/update, and in `pulumi refresh`. */
  read: string[];
}

const none: TypeActions = { create: [], update: [], delete: [], read: [] };

/** Tagging actions of a service, added to create (tags on create) and update. */
function tagged(rows: TypeActions, tag: string[], untag: string[], list: string[] = []): TypeActions {
  return {
    create: [...rows.create, ...tag],
    update: [...rows.update, ...tag, ...untag],
    delete: rows.delete,
    read: [...rows.read, ...list],
  };
}

const ec2Tags = (rows: TypeActions) => tagged(rows, ["ec2:CreateTags"], ["ec2:DeleteTags"]);
const elbTags = (rows: TypeActions) =>
  tagged(rows, ["elasticloadbalancing:AddTags"], ["elasticloadbalancing:RemoveTags"], ["elasticloadbalancing:DescribeTags"]);
const iamRoleTags = (rows: TypeActions) => tagged(rows, ["iam:TagRole"], ["iam:UntagRole"]);
const logsTags = (rows: TypeActions) => tagged(rows, ["logs:TagResource"], ["logs:UntagResource"], ["logs:ListTagsForResource"]);
const kmsTags = (rows: TypeActions) => tagged(rows, ["kms:TagResource"], ["kms:UntagResource"], ["kms:ListResourceTags"]);
const ecrTags = (rows: TypeActions) => tagged(rows, ["ecr:TagResource"], ["ecr:UntagResource"], ["ecr:ListTagsForResource"]);
const ecsTags = (rows: TypeActions) => tagged(rows, ["ecs:TagResource"], ["ecs:UntagResource"], ["ecs:ListTagsForResource"]);
const snsTags = (rows: TypeActions) => tagged(rows, ["sns:TagResource"], ["sns:UntagResource"], ["sns:ListTagsForResource"]);
const sqsTags = (rows: TypeActions) => tagged(rows, ["sqs:TagQueue"], ["sqs:UntagQueue"], ["sqs:ListQueueTags"]);
const eventsTags = (rows: TypeActions) => tagged(rows, ["events:TagResource"], ["events:UntagResource"], ["events:ListTagsForResource"]);
const cloudwatchTags = (rows: TypeActions) =>
  tagged(rows, ["cloudwatch:TagResource"], ["cloudwatch:UntagResource"], ["cloudwatch:ListTagsForResource"]);

/** One S3 bucket setting: one action puts it (and, for most, also removes it), one reads it. */
function bucketSetting(put: string, get: string, remove = put): TypeActions {
  return { create: [put], update: [put], delete: [remove], read: [get] };
}

/** A security group rule resource (vpc/securityGroupIngressRule, ...EgressRule). */
function securityGroupRule(direction: "Ingress" | "Egress"): TypeActions {
  return ec2Tags({
    create: [`ec2:AuthorizeSecurityGroup${direction}`],
    update: ["ec2:ModifySecurityGroupRules"],
    delete: [`ec2:RevokeSecurityGroup${direction}`],
    read: ["ec2:DescribeSecurityGroupRules"],
  });
}

const s3Versioning = bucketSetting("s3:PutBucketVersioning", "s3:GetBucketVersioning");
const s3Lifecycle = bucketSetting("s3:PutLifecycleConfiguration", "s3:GetLifecycleConfiguration");
const s3ObjectLock = bucketSetting("s3:PutBucketObjectLockConfiguration", "s3:GetBucketObjectLockConfiguration");
const sqsAttributes: TypeActions = {
  create: ["sqs:SetQueueAttributes"],
  update: ["sqs:SetQueueAttributes"],
  delete: ["sqs:SetQueueAttributes"],
  read: ["sqs:GetQueueAttributes"],
};

/** Every resource type a stack may create (type token as the plan records it). */
export const RESOURCE_ACTIONS: Record<string, TypeActions> = {
  // The provider asks who it runs as when it starts (account id, partition).
  "pulumi:providers:aws": { ...none, read: ["sts:GetCallerIdentity"] },
  // Made in the program; no cloud calls.
  "pulumi:providers:tls": none,
  "tls:index/privateKey:PrivateKey": none,
  "tls:index/selfSignedCert:SelfSignedCert": none,

  // Network
  "aws:ec2/vpc:Vpc": ec2Tags({
    create: ["ec2:CreateVpc", "ec2:ModifyVpcAttribute"],
    update: ["ec2:ModifyVpcAttribute"],
    delete: ["ec2:DeleteVpc"],
    // The provider also reports the main route table, default security group and network ACL.
    read: ["ec2:DescribeVpcs", "ec2:DescribeVpcAttribute", "ec2:DescribeRouteTables", "ec2:DescribeSecurityGroups", "ec2:DescribeNetworkAcls"],
  }),
  // Adopted, not created: its rules are replaced; "deleting" it only forgets it.
  "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": ec2Tags({
    create: ["ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress"],
    update: ["ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress"],
    delete: [],
    read: ["ec2:DescribeSecurityGroups"],
  }),
  "aws:ec2/internetGateway:InternetGateway": ec2Tags({
    create: ["ec2:CreateInternetGateway", "ec2:AttachInternetGateway"],
    update: ["ec2:AttachInternetGateway", "ec2:DetachInternetGateway"],
    delete: ["ec2:DetachInternetGateway", "ec2:DeleteInternetGateway"],
    read: ["ec2:DescribeInternetGateways"],
  }),
  "aws:ec2/routeTable:RouteTable": ec2Tags({
    create: ["ec2:CreateRouteTable"],
    update: ["ec2:CreateRoute", "ec2:DeleteRoute"],
    delete: ["ec2:DeleteRouteTable"],
    read: ["ec2:DescribeRouteTables"],
  }),
  "aws:ec2/route:Route": { create: ["ec2:CreateRoute"], update: ["ec2:ReplaceRoute"], delete: ["ec2:DeleteRoute"], read: ["ec2:DescribeRouteTables"] },
  "aws:ec2/routeTableAssociation:RouteTableAssociation": {
    create: ["ec2:AssociateRouteTable"],
    update: ["ec2:ReplaceRouteTableAssociation"],
    delete: ["ec2:DisassociateRouteTable"],
    read: ["ec2:DescribeRouteTables"],
  },
  "aws:ec2/subnet:Subnet": ec2Tags({
    create: ["ec2:CreateSubnet", "ec2:ModifySubnetAttribute"],
    update: ["ec2:ModifySubnetAttribute"],
    // Before deleting, the provider looks for network interfaces left in the subnet.
    delete: ["ec2:DeleteSubnet", "ec2:DescribeNetworkInterfaces"],
    read: ["ec2:DescribeSubnets"],
  }),
  "aws:ec2/eip:Eip": ec2Tags({
    create: ["ec2:AllocateAddress"],
    update: [],
    delete: ["ec2:ReleaseAddress", "ec2:DisassociateAddress"],
    read: ["ec2:DescribeAddresses", "ec2:DescribeAddressesAttribute"],
  }),
  "aws:ec2/natGateway:NatGateway": ec2Tags({
    create: ["ec2:CreateNatGateway"],
    update: [],
    delete: ["ec2:DeleteNatGateway"],
    read: ["ec2:DescribeNatGateways"],
  }),
  "aws:ec2/vpcEndpoint:VpcEndpoint": ec2Tags({
    // Interface endpoints with private DNS associate the VPC with a hosted zone AWS manages,
    // which IAM checks against the caller.
    create: ["ec2:CreateVpcEndpoint", "route53:AssociateVPCWithHostedZone"],
    update: ["ec2:ModifyVpcEndpoint"],
    delete: ["ec2:DeleteVpcEndpoints"],
    // A gateway endpoint's prefix list is read to report its CIDR blocks.
    read: ["ec2:DescribeVpcEndpoints", "ec2:DescribePrefixLists"],
  }),
  "aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy": {
    create: ["ec2:ModifyVpcEndpoint"],
    update: ["ec2:ModifyVpcEndpoint"],
    delete: ["ec2:ModifyVpcEndpoint"],
    read: ["ec2:DescribeVpcEndpoints"],
  },
  "aws:ec2/flowLog:FlowLog": ec2Tags({
    // Delivery to CloudWatch Logs hands the flow-log role to the service.
    create: ["ec2:CreateFlowLogs", "iam:PassRole"],
    update: [],
    delete: ["ec2:DeleteFlowLogs"],
    read: ["ec2:DescribeFlowLogs"],
  }),
  "aws:ec2/securityGroup:SecurityGroup": ec2Tags({
    // A new group comes with an allow-all egress rule, which the provider revokes.
    create: ["ec2:CreateSecurityGroup", "ec2:RevokeSecurityGroupEgress"],
    update: [
      "ec2:AuthorizeSecurityGroupIngress",
      "ec2:AuthorizeSecurityGroupEgress",
      "ec2:RevokeSecurityGroupIngress",
      "ec2:RevokeSecurityGroupEgress",
      "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
      "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
    ],
    delete: ["ec2:DeleteSecurityGroup"],
    read: ["ec2:DescribeSecurityGroups"],
  }),
  "aws:ec2/securityGroupRule:SecurityGroupRule": {
    create: ["ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress"],
    update: ["ec2:UpdateSecurityGroupRuleDescriptionsIngress", "ec2:UpdateSecurityGroupRuleDescriptionsEgress"],
    delete: ["ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress"],
    read: ["ec2:DescribeSecurityGroups"],
  },
  "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": securityGroupRule("Ingress"),
  "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": securityGroupRule("Egress"),

  // Load balancer
  "aws:lb/loadBalancer:LoadBalancer": elbTags({
    // The first load balancer of an account creates ELB's service-linked role.
    create: ["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:ModifyLoadBalancerAttributes", "iam:CreateServiceLinkedRole"],
    update: [
      "elasticloadbalancing:ModifyLoadBalancerAttributes",
      "elasticloadbalancing:SetSecurityGroups",
      "elasticloadbalancing:SetSubnets",
      "elasticloadbalancing:SetIpAddressType",
    ],
    // The provider waits until the NLB's network interfaces are gone.
    delete: ["elasticloadbalancing:DeleteLoadBalancer", "ec2:DescribeNetworkInterfaces"],
    read: ["elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeLoadBalancerAttributes"],
  }),
  "aws:lb/targetGroup:TargetGroup": elbTags({
    create: ["elasticloadbalancing:CreateTargetGroup", "elasticloadbalancing:ModifyTargetGroupAttributes"],
    update: ["elasticloadbalancing:ModifyTargetGroup", "elasticloadbalancing:ModifyTargetGroupAttributes"],
    delete: ["elasticloadbalancing:DeleteTargetGroup"],
    read: ["elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetGroupAttributes"],
  }),
  "aws:lb/listener:Listener": elbTags({
    // The TCP idle timeout is a listener attribute.
    create: ["elasticloadbalancing:CreateListener", "elasticloadbalancing:ModifyListenerAttributes"],
    update: ["elasticloadbalancing:ModifyListener", "elasticloadbalancing:ModifyListenerAttributes"],
    delete: ["elasticloadbalancing:DeleteListener"],
    read: ["elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeListenerAttributes"],
  }),

  // Logs and alarms
  "aws:cloudwatch/logGroup:LogGroup": logsTags({
    create: ["logs:CreateLogGroup", "logs:PutRetentionPolicy"],
    update: ["logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy", "logs:AssociateKmsKey", "logs:DisassociateKmsKey"],
    delete: ["logs:DeleteLogGroup"],
    read: ["logs:DescribeLogGroups"],
  }),
  "aws:cloudwatch/logMetricFilter:LogMetricFilter": {
    create: ["logs:PutMetricFilter"],
    update: ["logs:PutMetricFilter"],
    delete: ["logs:DeleteMetricFilter"],
    read: ["logs:DescribeMetricFilters"],
  },
  "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": {
    create: ["logs:PutResourcePolicy"],
    update: ["logs:PutResourcePolicy"],
    delete: ["logs:DeleteResourcePolicy"],
    read: ["logs:DescribeResourcePolicies"],
  },
  "aws:cloudwatch/metricAlarm:MetricAlarm": cloudwatchTags({
    create: ["cloudwatch:PutMetricAlarm"],
    update: ["cloudwatch:PutMetricAlarm"],
    delete: ["cloudwatch:DeleteAlarms"],
    read: ["cloudwatch:DescribeAlarms"],
  }),
  "aws:cloudwatch/compositeAlarm:CompositeAlarm": cloudwatchTags({
    create: ["cloudwatch:PutCompositeAlarm"],
    update: ["cloudwatch:PutCompositeAlarm"],
    delete: ["cloudwatch:DeleteAlarms"],
    read: ["cloudwatch:DescribeAlarms"],
  }),
  "aws:cloudwatch/eventBus:EventBus": eventsTags({
    create: ["events:CreateEventBus"],
    update: ["events:UpdateEventBus"],
    delete: ["events:DeleteEventBus"],
    read: ["events:DescribeEventBus"],
  }),
  "aws:cloudwatch/eventRule:EventRule": eventsTags({
    create: ["events:PutRule"],
    update: ["events:PutRule", "events:EnableRule", "events:DisableRule"],
    delete: ["events:DeleteRule"],
    read: ["events:DescribeRule"],
  }),
  "aws:cloudwatch/eventTarget:EventTarget": {
    // A target with a role (e.g. delivering to another bus) hands that role to EventBridge.
    create: ["events:PutTargets", "iam:PassRole"],
    update: ["events:PutTargets", "iam:PassRole"],
    delete: ["events:RemoveTargets"],
    read: ["events:ListTargetsByRule"],
  },

  // Keys
  "aws:kms/key:Key": kmsTags({
    create: ["kms:CreateKey", "kms:EnableKeyRotation"],
    update: ["kms:EnableKeyRotation", "kms:DisableKeyRotation", "kms:UpdateKeyDescription", "kms:PutKeyPolicy"],
    delete: ["kms:ScheduleKeyDeletion"],
    read: ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus"],
  }),
  "aws:kms/alias:Alias": { create: ["kms:CreateAlias"], update: ["kms:UpdateAlias"], delete: ["kms:DeleteAlias"], read: ["kms:ListAliases"] },
  "aws:kms/keyPolicy:KeyPolicy": {
    create: ["kms:PutKeyPolicy"],
    update: ["kms:PutKeyPolicy"],
    // Removing it puts the key's default policy back.
    delete: ["kms:PutKeyPolicy"],
    read: ["kms:GetKeyPolicy", "kms:DescribeKey"],
  },

  // Buckets
  "aws:s3/bucket:Bucket": tagged(
    {
      // A bucket with object lock is created with it (and with versioning) in one request.
      create: ["s3:CreateBucket", "s3:PutBucketObjectLockConfiguration", "s3:PutBucketVersioning"],
      update: [],
      // forceDestroy empties the bucket first, every version, under governance retention too.
      delete: ["s3:DeleteBucket", "s3:ListBucketVersions", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"],
      // The provider reads back every setting a bucket can have, whether the stack sets it or not.
      read: [
        "s3:ListBucket",
        "s3:GetBucketAcl",
        "s3:GetBucketCORS",
        "s3:GetBucketWebsite",
        "s3:GetBucketVersioning",
        "s3:GetAccelerateConfiguration",
        "s3:GetBucketRequestPayment",
        "s3:GetBucketLogging",
        "s3:GetLifecycleConfiguration",
        "s3:GetReplicationConfiguration",
        "s3:GetEncryptionConfiguration",
        "s3:GetBucketObjectLockConfiguration",
        "s3:GetBucketPolicy",
      ],
    },
    ["s3:PutBucketTagging"],
    [],
    ["s3:GetBucketTagging"],
  ),
  "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": bucketSetting(
    "s3:PutEncryptionConfiguration",
    "s3:GetEncryptionConfiguration",
  ),
  "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": bucketSetting("s3:PutBucketPublicAccessBlock", "s3:GetBucketPublicAccessBlock"),
  "aws:s3/bucketOwnershipControls:BucketOwnershipControls": bucketSetting("s3:PutBucketOwnershipControls", "s3:GetBucketOwnershipControls"),
  "aws:s3/bucketVersioning:BucketVersioning": s3Versioning,
  "aws:s3/bucketVersioningV2:BucketVersioningV2": s3Versioning,
  "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": s3Lifecycle,
  "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2": s3Lifecycle,
  "aws:s3/bucketLogging:BucketLogging": bucketSetting("s3:PutBucketLogging", "s3:GetBucketLogging"),
  "aws:s3/bucketPolicy:BucketPolicy": bucketSetting("s3:PutBucketPolicy", "s3:GetBucketPolicy", "s3:DeleteBucketPolicy"),
  "aws:s3/bucketNotification:BucketNotification": bucketSetting("s3:PutBucketNotification", "s3:GetBucketNotification"),
  "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration": s3ObjectLock,
  "aws:s3/bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2": s3ObjectLock,
  "aws:s3/bucketObjectv2:BucketObjectv2": {
    // Objects with tags need the tagging action too. (The certificate objects use SSE-S3: no data key.)
    create: ["s3:PutObject", "s3:PutObjectTagging"],
    update: ["s3:PutObject", "s3:PutObjectTagging"],
    // In a versioned bucket every version of the object is deleted.
    delete: ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:ListBucketVersions"],
    // HEAD and the tag set; the content is not read back.
    read: ["s3:GetObject", "s3:GetObjectTagging"],
  },

  // Identities
  "aws:iam/role:Role": iamRoleTags({
    create: ["iam:CreateRole"],
    update: ["iam:UpdateRole", "iam:UpdateRoleDescription", "iam:UpdateAssumeRolePolicy"],
    // Instance profiles and policies must be gone before the role can be.
    delete: ["iam:DeleteRole", "iam:ListInstanceProfilesForRole", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies"],
    read: ["iam:GetRole", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies"],
  }),
  "aws:iam/rolePolicy:RolePolicy": {
    create: ["iam:PutRolePolicy"],
    update: ["iam:PutRolePolicy"],
    delete: ["iam:DeleteRolePolicy"],
    read: ["iam:GetRolePolicy"],
  },
  "aws:iam/policy:Policy": tagged(
    {
      create: ["iam:CreatePolicy"],
      update: ["iam:CreatePolicyVersion", "iam:DeletePolicyVersion", "iam:ListPolicyVersions"],
      delete: ["iam:DeletePolicy", "iam:DeletePolicyVersion", "iam:ListPolicyVersions"],
      read: ["iam:GetPolicy", "iam:GetPolicyVersion"],
    },
    ["iam:TagPolicy"],
    ["iam:UntagPolicy"],
  ),
  "aws:iam/rolePolicyAttachment:RolePolicyAttachment": {
    create: ["iam:AttachRolePolicy"],
    update: [],
    delete: ["iam:DetachRolePolicy"],
    read: ["iam:ListAttachedRolePolicies"],
  },

  // Images
  "aws:ecr/repository:Repository": ecrTags({
    create: ["ecr:CreateRepository"],
    update: ["ecr:PutImageScanningConfiguration", "ecr:PutImageTagMutability"],
    delete: ["ecr:DeleteRepository"],
    read: ["ecr:DescribeRepositories"],
  }),
  "aws:ecr/lifecyclePolicy:LifecyclePolicy": {
    create: ["ecr:PutLifecyclePolicy"],
    update: ["ecr:PutLifecyclePolicy"],
    delete: ["ecr:DeleteLifecyclePolicy"],
    read: ["ecr:GetLifecyclePolicy"],
  },
  // Built locally with Docker and pushed; nothing is deleted from the repository.
  "awsx:ecr:Image": {
    create: [
      "ecr:GetAuthorizationToken",
      "ecr:BatchCheckLayerAvailability",
      "ecr:InitiateLayerUpload",
      "ecr:UploadLayerPart",
      "ecr:CompleteLayerUpload",
      "ecr:PutImage",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ],
    update: [
      "ecr:GetAuthorizationToken",
      "ecr:BatchCheckLayerAvailability",
      "ecr:InitiateLayerUpload",
      "ecr:UploadLayerPart",
      "ecr:CompleteLayerUpload",
      "ecr:PutImage",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ],
    delete: [],
    read: [],
  },

  // Containers
  "aws:ecs/cluster:Cluster": ecsTags({
    // The first cluster of an account creates ECS's service-linked role.
    create: ["ecs:CreateCluster", "iam:CreateServiceLinkedRole"],
    update: ["ecs:UpdateCluster", "ecs:UpdateClusterSettings"],
    delete: ["ecs:DeleteCluster"],
    read: ["ecs:DescribeClusters"],
  }),
  "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders": {
    create: ["ecs:PutClusterCapacityProviders"],
    update: ["ecs:PutClusterCapacityProviders"],
    delete: ["ecs:PutClusterCapacityProviders"],
    read: ["ecs:DescribeClusters"],
  },
  "aws:ecs/taskDefinition:TaskDefinition": ecsTags({
    // Registering a task definition hands its task and execution roles to ECS.
    create: ["ecs:RegisterTaskDefinition", "iam:PassRole"],
    update: ["ecs:RegisterTaskDefinition", "iam:PassRole"],
    delete: ["ecs:DeregisterTaskDefinition"],
    read: ["ecs:DescribeTaskDefinition"],
  }),
  "aws:ecs/service:Service": ecsTags({
    // waitForSteadyState polls DescribeServices; deleting drains the service first.
    create: ["ecs:CreateService", "ecs:DescribeServices"],
    update: ["ecs:UpdateService", "ecs:DescribeServices"],
    delete: ["ecs:UpdateService", "ecs:DeleteService", "ecs:DescribeServices"],
    read: ["ecs:DescribeServices"],
  }),
  // AWS, "IAM permissions required for Amazon ECS service auto scaling": registering an ECS
  // service needs ecs:DescribeServices and ecs:UpdateService; a target-tracking policy makes,
  // reads and deletes its CloudWatch alarms with the caller's permissions.
  "aws:appautoscaling/target:Target": tagged(
    {
      create: ["application-autoscaling:RegisterScalableTarget", "ecs:DescribeServices", "ecs:UpdateService", "iam:CreateServiceLinkedRole"],
      update: ["application-autoscaling:RegisterScalableTarget", "ecs:DescribeServices", "ecs:UpdateService"],
      delete: ["application-autoscaling:DeregisterScalableTarget"],
      read: ["application-autoscaling:DescribeScalableTargets"],
    },
    ["application-autoscaling:TagResource"],
    ["application-autoscaling:UntagResource"],
    ["application-autoscaling:ListTagsForResource"],
  ),
  "aws:appautoscaling/policy:Policy": {
    create: ["application-autoscaling:PutScalingPolicy", "cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms"],
    update: ["application-autoscaling:PutScalingPolicy", "cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms"],
    delete: ["application-autoscaling:DeleteScalingPolicy", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms"],
    read: ["application-autoscaling:DescribeScalingPolicies"],
  },

  // Notifications and events
  "aws:sns/topic:Topic": snsTags({
    create: ["sns:CreateTopic", "sns:SetTopicAttributes"],
    update: ["sns:SetTopicAttributes"],
    delete: ["sns:DeleteTopic"],
    read: ["sns:GetTopicAttributes"],
  }),
  "aws:sns/topicPolicy:TopicPolicy": {
    create: ["sns:SetTopicAttributes"],
    update: ["sns:SetTopicAttributes"],
    delete: ["sns:SetTopicAttributes"],
    read: ["sns:GetTopicAttributes"],
  },
  "aws:sns/topicSubscription:TopicSubscription": {
    create: ["sns:Subscribe", "sns:SetSubscriptionAttributes"],
    update: ["sns:SetSubscriptionAttributes"],
    delete: ["sns:Unsubscribe"],
    // An e-mail subscription is found by its topic until it is confirmed.
    read: ["sns:GetSubscriptionAttributes", "sns:ListSubscriptionsByTopic"],
  },
  "aws:sqs/queue:Queue": sqsTags({
    create: ["sqs:CreateQueue", "sqs:SetQueueAttributes"],
    update: ["sqs:SetQueueAttributes"],
    delete: ["sqs:DeleteQueue"],
    read: ["sqs:GetQueueAttributes", "sqs:GetQueueUrl"],
  }),
  "aws:sqs/queuePolicy:QueuePolicy": sqsAttributes,
  "aws:sqs/redrivePolicy:RedrivePolicy": sqsAttributes,
  "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy": sqsAttributes,

  // EventBridge Scheduler (the certificate expiry check publishes notAfter daily); schedules take no tags.
  "aws:scheduler/schedule:Schedule": {
    // The schedule runs its target with a role, which it is handed.
    create: ["scheduler:CreateSchedule", "iam:PassRole"],
    update: ["scheduler:UpdateSchedule", "iam:PassRole"],
    delete: ["scheduler:DeleteSchedule"],
    read: ["scheduler:GetSchedule"],
  },

  // Audit
  "aws:cloudtrail/trail:Trail": tagged(
    {
      // A trail that also writes to CloudWatch Logs hands its role to CloudTrail.
      create: ["cloudtrail:CreateTrail", "cloudtrail:StartLogging", "cloudtrail:PutEventSelectors", "cloudtrail:PutInsightSelectors", "iam:PassRole"],
      update: [
        "cloudtrail:UpdateTrail",
        "cloudtrail:StartLogging",
        "cloudtrail:StopLogging",
        "cloudtrail:PutEventSelectors",
        "cloudtrail:PutInsightSelectors",
        "iam:PassRole",
      ],
      delete: ["cloudtrail:DeleteTrail"],
      read: ["cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus", "cloudtrail:GetEventSelectors", "cloudtrail:GetInsightSelectors"],
    },
    ["cloudtrail:AddTags"],
    ["cloudtrail:RemoveTags"],
    ["cloudtrail:ListTags"],
  ),

  // Parameters
  "aws:ssm/parameter:Parameter": tagged(
    {
      create: ["ssm:PutParameter"],
      update: ["ssm:PutParameter"],
      delete: ["ssm:DeleteParameter"],
      read: ["ssm:GetParameter", "ssm:DescribeParameters"],
    },
    ["ssm:AddTagsToResource"],
    ["ssm:RemoveTagsFromResource"],
    ["ssm:ListTagsForResource"],
  ),
};

/** Data sources the program reads during every preview and update. */
export const INVOKE_ACTIONS: Record<string, string[]> = {
  "aws:index/getCallerIdentity:getCallerIdentity": ["sts:GetCallerIdentity"],
  "aws:index/getAvailabilityZones:getAvailabilityZones": ["ec2:DescribeAvailabilityZones"],
  // The role behind the caller's session (with its path), the DICOM key's administrator: the
  // provider reads the role named in the session's ARN.
  "aws:iam/getSessionContext:getSessionContext": ["iam:GetRole"],
  // Answered from the provider's configuration, without a call.
  "aws:index/getPartition:getPartition": [],
  "aws:index/getRegion:getRegion": [],
};

/**
 * What the deploy workflow runs besides Pulumi with the same identity: the post-deploy smoke
 * (stacks/deploy-smoke.ts opens 443 to the runner for its duration, stacks/smoke.ts reads the
 * stored instances back) and the images job (looks up and pushes images).
 */
export const WORKFLOW_ACTIONS: Record<string, string[]> = {
  "deploy-smoke: the runner's address allowed on 443, then removed": [
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:RevokeSecurityGroupIngress",
    "ec2:DescribeSecurityGroupRules",
  ],
  "smoke: HEAD and tags of the stored instances": ["s3:GetObject", "s3:GetObjectTagging"],
  "images: look up and push the images": [
    "ecr:DescribeImages",
    "ecr:GetAuthorizationToken",
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr:BatchGetImage",
  ],
};

export interface PolicyDocument {
  Version: string;
  Statement: {
    Sid?: string;
    Effect: string;
    Action?: string | string[];
    NotAction?: string | string[];
    Resource?: string | string[];
    Condition?: unknown;
  }[];
}

/**
 * Whether an Allow statement of the policy names the action, by IAM's matching rules for
 * actions: case-insensitive, `*` and `?` wildcards. Resources and conditions are not
 * evaluated: the file scopes some statements to the stack's names (`stowrs-*`), which holds
 * for every resource the committed stacks make.
 */
export function allowsAction(policy: PolicyDocument, action: string): boolean {
  const denied = policy.Statement.some((s) => s.Effect === "Deny" && list(s.Action).some((p) => matches(p, action)));
  if (denied) return false;
  return policy.Statement.some((s) => s.Effect === "Allow" && list(s.Action).some((p) => matches(p, action)));
}

/** Actions the types and invokes need that the policy does not allow, each with why it is needed. */
export function missingActions(policy: PolicyDocument, needs: Map<string, Set<string>>): string[] {
  const missing: string[] = [];
  for (const [action, why] of [...needs].sort(([a], [b]) => a.localeCompare(b))) {
    if (!allowsAction(policy, action)) missing.push(`${action} (${[...why].sort().join("; ")})`);
  }
  return missing;
}

/** action -> the types/operations that need it. */
export function requiredActions(types: Iterable<string>, invokes: Iterable<string> = [], workflow = true): Map<string, Set<string>> {
  const needs = new Map<string, Set<string>>();
  const add = (action: string, why: string) => needs.set(action, (needs.get(action) ?? new Set()).add(why));
  for (const type of types) {
    const row = RESOURCE_ACTIONS[type];
    if (!row) throw new Error(`no row for ${type} in RESOURCE_ACTIONS (stacks/deploy-permissions.ts)`);
    for (const op of ["create", "update", "delete", "read"] as const) for (const a of row[op]) add(a, `${op} ${type}`);
  }
  for (const token of invokes) {
    const actions = INVOKE_ACTIONS[token];
    if (!actions) throw new Error(`no row for the data source ${token} in INVOKE_ACTIONS (stacks/deploy-permissions.ts)`);
    for (const a of actions) add(a, `read ${token}`);
  }
  if (workflow) for (const [step, actions] of Object.entries(WORKFLOW_ACTIONS)) for (const a of actions) add(a, step);
  return needs;
}

function list(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

function matches(pattern: string, action: string): boolean {
  const re = new RegExp(`^${pattern.split("").map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\]/g, "\\$&"))).join("")}$`, "i");
  return re.test(action);
}
