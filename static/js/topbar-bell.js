// The notification bell on the account and admin pages: its own socket keeps the count live.
import { connectSocket } from "./chat-core.js";
import { bindBell } from "./bell.js";

if (document.getElementById("bell")) bindBell(connectSocket());
