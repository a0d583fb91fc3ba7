// The S3-API server of kiln's tests: @20minutes/s3rver (pinned by
// package-lock.json), which checks Signature V4 signatures against its one
// account, S3RVER / S3RVER. The package ships its CLI as a module without a
// bin script; this starts it the way its bin would.
//
//	node tests/s3/server.js -d DIR -a 127.0.0.1 -p 0 --configure-bucket NAME
//
// prints "S3rver listening on ADDRESS:PORT" once it is up.
'use strict';
const { parseAsync } = require('@20minutes/s3rver/lib/cli.js');

parseAsync(['node', 's3rver', ...process.argv.slice(2)]).catch((e) => {
	console.error(e);
	process.exit(1);
});
