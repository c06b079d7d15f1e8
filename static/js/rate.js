// /rate: the closing e-mail's link to rate a conversation (its token names the ticket).
import { api } from "./chat-core.js";

const form = document.getElementById("rating-form");
const token = document.getElementById("rate-page").dataset.token;
history.replaceState(null, "", "/rate"); // the token leaves the address bar

form?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = document.getElementById("rating-error");
  const chosen = form.querySelector("input[name=rating]:checked");
  if (!chosen) {
    error.textContent = "Choose from 1 to 5 stars.";
    error.hidden = false;
    return;
  }
  try {
    const { csat } = await api("/api/csat", {
      method: "POST",
      body: { token, rating: Number(chosen.value), comment: document.getElementById("rating-comment").value.trim() || null },
    });
    form.hidden = true;
    const done = document.getElementById("rating-done");
    done.textContent = `Thank you! You rated this conversation ${csat.rating} out of 5.`;
    done.hidden = false;
    done.focus();
  } catch (failure) {
    error.textContent = failure.message;
    error.hidden = false;
  }
});
