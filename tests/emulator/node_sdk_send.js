// Send one SMS through Tencent's Node.js SDK (tencentcloud-sdk-nodejs-sms) to the emulator and
// print the SDK's answer as JSON: {"response": …} or {"error": {"code", "message"}}.
//
// Usage: node node_sdk_send.js '<json: port, secretId, secretKey, request>'
//
// The SDK derives the service name from the endpoint's first label, so the endpoint is
// `sms.localhost:<port>`; an agent resolves every name to 127.0.0.1, so nothing leaves loopback.
"use strict";

const http = require("http");
const tencentcloud = require("tencentcloud-sdk-nodejs-sms");

const args = JSON.parse(process.argv[2]);

const agent = new http.Agent({
  keepAlive: false,
  lookup: (hostname, options, callback) => {
    if (options && options.all) {
      callback(null, [{ address: "127.0.0.1", family: 4 }]);
    } else {
      callback(null, "127.0.0.1", 4);
    }
  },
});

const client = new tencentcloud.sms.v20210111.Client({
  credential: { secretId: args.secretId, secretKey: args.secretKey },
  region: "ap-guangzhou",
  profile: {
    httpProfile: { endpoint: `sms.localhost:${args.port}`, protocol: "http://", agent, reqTimeout: 10 },
  },
});

client.SendSms(args.request).then(
  (response) => process.stdout.write(JSON.stringify({ response })),
  (error) => process.stdout.write(JSON.stringify({ error: { code: error.code || "", message: error.message } })),
);
