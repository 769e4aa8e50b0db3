// Prints the EIP-2335 keystore of interop validator INDEX (the devnet's deterministic keys),
// encrypted with PASSWORD, so a test can import into the validator client's Keymanager API a key
// it does not run yet. Must live next to node_modules (devnet.sh install copies it there).
//   node interop-keystore.mjs INDEX PASSWORD
import {interopSecretKey} from "@lodestar/state-transition";
import {create} from "@chainsafe/bls-keystore";

const index = Number(process.argv[2]);
const password = process.argv[3];
if (!Number.isInteger(index) || index < 0 || !password) {
  process.stderr.write("usage: node interop-keystore.mjs INDEX PASSWORD\n");
  process.exit(2);
}
const secret = interopSecretKey(index);
const keystore = await create(
  password,
  secret.toBytes(),
  secret.toPublicKey().toBytes(),
  `m/12381/3600/${index}/0/0`
);
process.stdout.write(JSON.stringify(keystore));
